/// Whether a daemon is doing its job, as `/healthz` answers.
public enum DaemonHealth: Sendable, Equatable {
    /// The last pass succeeded, and recently.
    case healthy
    /// Something is wrong, and why, on one line.
    case unhealthy(reason: String)
}

/// The daemon's latest ``DaemonSnapshot``, updated by the pass loop after
/// every pass and read by the HTTP endpoints.
public actor DaemonSnapshotStore {
    /// The latest snapshot.
    public private(set) var snapshot = DaemonSnapshot()

    /// Creates a store with no pass yet.
    public init() {}

    /// Adds a pass and the status report read after it.
    public func record(_ pass: PassLoop.Pass, status: Result<StatusReport, any Error>?) {
        snapshot.record(pass, status: status)
    }
}

public import Foundation

extension DaemonSnapshot {
    /// How old the last pass may be before the daemon counts as stuck: three
    /// intervals and a minute, leaving room for a long pass.
    public static func maximumPassAge(interval: Duration) -> Duration {
        interval * 3 + .seconds(60)
    }

    /// Whether the daemon is healthy at `now`: a pass has run, ended less
    /// than ``maximumPassAge(interval:)`` ago, reached the database and had
    /// no failure.
    public func health(at now: Date, interval: Duration) -> DaemonHealth {
        guard let lastPass else {
            return .unhealthy(reason: "no pass has run yet")
        }
        let age = now.timeIntervalSince(lastPass.endedAt)
        let maximumAge = Self.maximumPassAge(interval: interval).seconds
        if age > maximumAge {
            return .unhealthy(reason: "stale: the last pass ended \(Int(age))s ago, more than \(Int(maximumAge))s")
        }
        if !lastPass.reachedDatabase {
            return .unhealthy(reason: "database unreachable: \(lastPass.failure ?? "unknown error")")
        }
        if let failure = lastPass.failure {
            return .unhealthy(reason: "last pass failed: \(failure)")
        }
        return .healthy
    }
}

import AuditlogKit
import Foundation
import Testing

@Suite struct DaemonHealthTests {
    private static let end = Date(timeIntervalSince1970: 1_764_623_080)
    private static let interval = Duration.seconds(30)

    private static func snapshot(after result: Result<PassSummary, any Error>) -> DaemonSnapshot {
        var snapshot = DaemonSnapshot()
        snapshot.record(
            .init(startedAt: end.addingTimeInterval(-2), duration: .seconds(2), result: result), status: nil)
        return snapshot
    }

    @Test func unhealthyBeforeTheFirstPass() {
        #expect(
            DaemonSnapshot().health(at: Self.end, interval: Self.interval) == .unhealthy(reason: "no pass has run yet"))
    }

    @Test func healthyAfterARecentPassThatSucceeded() {
        let snapshot = Self.snapshot(after: .success(PassSummary()))
        #expect(snapshot.health(at: Self.end.addingTimeInterval(150), interval: Self.interval) == .healthy)
    }

    @Test func unhealthyWhenTheLastPassIsOlderThanThreeIntervalsAndAMinute() {
        let snapshot = Self.snapshot(after: .success(PassSummary()))
        #expect(
            snapshot.health(at: Self.end.addingTimeInterval(151), interval: Self.interval)
                == .unhealthy(reason: "stale: the last pass ended 151s ago, more than 150s"))
    }

    @Test func unhealthyWhenTheLastPassFailed() {
        let failed = PassSummary(failures: [.init(step: "sink main", message: "unreachable")])
        #expect(
            Self.snapshot(after: .success(failed)).health(at: Self.end, interval: Self.interval)
                == .unhealthy(reason: "last pass failed: sink main: unreachable"))
    }

    @Test func unhealthyWhenTheDatabaseIsUnreachable() {
        struct Refused: Error, CustomStringConvertible {
            var description: String { "connection refused\n\tIs the server running?" }
        }
        let refused = Refused()
        #expect(
            Self.snapshot(after: .failure(refused)).health(at: Self.end, interval: Self.interval)
                == .unhealthy(reason: "database unreachable: connection refused Is the server running?"))
    }

    @Test func aSuccessAfterAFailureIsHealthyAgain() {
        var snapshot = Self.snapshot(after: .success(PassSummary(failures: [.init(step: "tick", message: "x")])))
        snapshot.record(.init(startedAt: Self.end, duration: .seconds(1), result: .success(PassSummary())), status: nil)
        #expect(snapshot.health(at: Self.end.addingTimeInterval(1), interval: Self.interval) == .healthy)
    }
}

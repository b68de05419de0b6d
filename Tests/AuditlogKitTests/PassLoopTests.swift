import AuditlogKit
import Foundation
import Testing

@Suite struct DurationParsingTests {
    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)),
        ("30s", .seconds(30)),
        ("1.5s", .milliseconds(1_500)),
        ("5m", .seconds(300)),
        ("1h", .seconds(3_600)),
    ])
    func parses(text: String, expected: Duration) {
        #expect(Duration(parsing: text) == expected)
    }

    @Test(arguments: ["", "30", "0s", "-1s", "s", "1d", "1.5.5s", "infs"])
    func rejects(text: String) {
        #expect(Duration(parsing: text) == nil)
    }
}

@Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
struct PassLoopTests {
    /// Passes run on the interval and export what is written between them;
    /// cancelling the task stops the loop.
    @Test func runsPassesUntilCancelled() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let sink = try await ScratchSink(on: db)
        defer { sink.remove() }
        let daemon = PassLoop(runner: sink.runner(maxRows: 10), interval: .milliseconds(50)) {
            try await database.connect()
        }
        let exported = Counter()
        let loop = Task {
            await daemon.run { result in
                if case .success(let summary) = result {
                    exported.add(summary.sinks.reduce(0) { $0 + $1.rows })
                }
            }
        }
        let ids = try await sink.record(3, on: db)
        for _ in 0..<200 where exported.value < 3 {
            try await Task.sleep(for: .milliseconds(25))
        }
        loop.cancel()
        let passes = await loop.value

        #expect(passes >= 1)
        #expect(exported.value == 3)
        #expect(try sink.exportedIDs().sorted() == ids.sorted())
    }
}

/// A count shared with a `@Sendable` closure.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    var value: Int {
        lock.withLock { count }
    }

    func add(_ amount: Int) {
        lock.withLock { count += amount }
    }
}

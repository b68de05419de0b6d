import AuditlogKit
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
struct DaemonServiceTests {
    /// The daemon exports on its interval and serves what it saw: the
    /// metrics count the exported entries, the health check passes, the
    /// status names the sink; stopping ends the passes and the server.
    @Test func servesMetricsHealthAndStatusUntilCancelled() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let sink = try await ScratchSink(on: db)
        defer { sink.remove() }
        let recorder = LineRecorder()
        let service = DaemonService(
            loop: PassLoop(runner: sink.runner(maxRows: 10), interval: .milliseconds(100)) {
                try await database.connect()
            },
            listen: ListenAddress(host: "127.0.0.1", port: 0),
            logger: recorder.textLogger(level: .info)
        )
        let listening = PortBox()
        let (stopRequests, requestStop) = AsyncStream.makeStream(of: Void.self)
        let running = Task {
            try await service.run(stop: { for await _ in stopRequests { return } }, onListening: { listening.set($0) })
        }
        defer { running.cancel() }

        let port = try await eventually { listening.port }
        let ids = try await sink.record(3, on: db)
        _ = try await eventually { await service.snapshots.snapshot.exported[sink.name]?.rows == 3 ? true : nil }
        let base = "http://127.0.0.1:\(port)"

        let (metrics, metricsStatus) = try await Self.get("\(base)/metrics")
        #expect(metricsStatus == 200)
        #expect(metrics.split(separator: "\n").contains("auditlog_export_rows_total{sink=\"\(sink.name)\"} 3"))
        #expect(metrics.contains("# TYPE auditlog_passes_total counter\n"))
        #expect(metrics.contains("\nauditlog_up 1\n"))

        let (health, healthStatus) = try await Self.get("\(base)/healthz")
        #expect(healthStatus == 200, "\(health)")
        #expect(health == "ok\n")

        let (status, statusStatus) = try await Self.get("\(base)/status")
        #expect(statusStatus == 200)
        let report = try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any]
        let sinks = report?["sinks"] as? [[String: Any]] ?? []
        #expect(sinks.map { $0["name"] as? String } == [sink.name])

        requestStop.yield()
        let passes = try await running.value
        #expect(passes >= 1)
        #expect(try sink.exportedIDs().sorted() == ids.sorted())
        let refused = await #expect(throws: URLError.self) { try await Self.get("\(base)/healthz") }
        #expect(refused?.code == .cannotConnectToHost)
        #expect(
            recorder.lines.contains {
                $0.hasPrefix("auditlogctl: info: daemon started") && $0.contains("listen=127.0.0.1:0")
            })
        #expect(
            recorder.lines.contains { $0.hasPrefix("auditlogctl: info: exported") && $0.contains("sink=\(sink.name)") })
        #expect(recorder.lines.last == "auditlogctl: info: daemon stopped passes=\(passes)\n")
    }

    /// A server that cannot listen ends the service with its error, and the
    /// pass loop with it.
    @Test func anAddressInUseStopsTheService() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let first = DaemonService(
            loop: PassLoop(runner: PassRunner(retain: "100 years", sinks: []), interval: .seconds(60)) {
                try await database.connect()
            },
            listen: ListenAddress(host: "127.0.0.1", port: 0),
            logger: LineRecorder().textLogger()
        )
        let listening = PortBox()
        let running = Task { try await first.run(onListening: { listening.set($0) }) }
        defer { running.cancel() }
        let port = try await eventually { listening.port }

        var second = first
        second.listen = ListenAddress(host: "127.0.0.1", port: port)
        second.snapshots = DaemonSnapshotStore()
        await #expect(throws: (any Error).self) { try await second.run() }
    }

    private static func get(_ url: String) async throws -> (String, Int) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.timeoutInterval = 10
        let (data, response) = try await URLSession.shared.data(for: request)
        return (String(decoding: data, as: UTF8.self), (response as? HTTPURLResponse)?.statusCode ?? 0)
    }
}

/// Polls `value` every 20 ms for up to 15 s until it is not `nil`.
private func eventually<Value>(_ value: () async throws -> Value?) async throws -> Value {
    for _ in 0..<750 {
        if let value = try await value() {
            return value
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting")
    throw CancellationError()
}

/// The port a server reported, shared with its `@Sendable` callback.
private final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int?

    var port: Int? {
        lock.withLock { value }
    }

    func set(_ port: Int) {
        lock.withLock { value = port }
    }
}

import AuditlogKit
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite struct StatusServerTests {
    /// Before the first pass, and after one that could not reach the
    /// database, the health check and the status say why they cannot
    /// answer; the metrics always can.
    @Test func answersFromTheSnapshotWithoutADatabase() async throws {
        let snapshots = DaemonSnapshotStore()
        let server = StatusServer(
            address: ListenAddress(host: "127.0.0.1", port: 0), snapshots: snapshots,
            interval: .seconds(30), logger: LineRecorder().textLogger())
        let (ports, reportPort) = AsyncStream.makeStream(of: Int.self)
        let running = Task { try await server.run { reportPort.yield($0) } }
        defer { running.cancel() }
        var portIterator = ports.makeAsyncIterator()
        let base = "http://127.0.0.1:\(try #require(await portIterator.next()))"

        #expect(try await Self.get("\(base)/healthz") == (503, "no pass has run yet\n"))
        #expect(try await Self.get("\(base)/status") == (503, "no pass has run yet\n"))
        let (metricsStatus, metrics) = try await Self.get("\(base)/metrics")
        #expect(metricsStatus == 200)
        #expect(metrics.contains("\nauditlog_passes_total 0\n"))
        #expect(try await Self.get("\(base)/nothing-here").0 == 404)

        struct Refused: Error, CustomStringConvertible {
            var description: String { "connection refused" }
        }
        await snapshots.record(
            .init(startedAt: Date(), duration: .milliseconds(5), result: .failure(Refused())), status: nil)
        #expect(try await Self.get("\(base)/healthz") == (503, "database unreachable: connection refused\n"))
        #expect(try await Self.get("\(base)/status") == (503, "database unreachable: connection refused\n"))
        #expect(try await Self.get("\(base)/metrics").1.contains("\nauditlog_up 0\n"))
    }

    private static func get(_ url: String) async throws -> (Int, String) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.timeoutInterval = 10
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}

import AuditlogKit
import Foundation
import Testing

@Suite struct MetricsRendererTests {
    private static let passEnd = Date(timeIntervalSince1970: 1_764_623_080)

    /// Samples of a rendering, without the `# HELP` and `# TYPE` lines.
    private static func samples(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
    }

    @Test func rendersNothingButCountersAndUpBeforeTheFirstPass() {
        let text = MetricsRenderer.render(DaemonSnapshot())
        #expect(Self.samples(text) == ["auditlog_passes_total 0", "auditlog_up 0"])
        #expect(text.contains("# HELP auditlog_export_rows_total "))
        #expect(text.contains("# TYPE auditlog_export_rows_total counter\n"))
        #expect(text.contains("# TYPE auditlog_up gauge\n"))
        #expect(text.hasSuffix("\n"))
    }

    @Test func rendersAPassAndItsStatus() {
        var snapshot = DaemonSnapshot()
        let summary = PassSummary(
            sinks: [.init(name: "main", outcome: .drained, pages: 2, rows: 30, bytes: 900)],
            backfills: [.init(id: 7, export: .init(name: "main", outcome: .drained, pages: 1, rows: 5, bytes: 100))],
            failures: [.init(step: "sink other", message: "unreachable"), .init(step: "purge", message: "busy")]
        )
        let status = StatusReport(
            extensionVersion: "1.0",
            edition: .c,
            health: .init(
                pendingCount: 4, oldestPending: Self.passEnd.addingTimeInterval(-90), partitionCount: 3,
                oldestPartitionStart: nil, newestPartitionEnd: nil, defaultPartitionRows: 0),
            partitions: [],
            sinks: [
                SinkStatus(
                    name: "main", enabled: true, url: "file:///x", lagSeconds: 1.5, lagRows: 12,
                    pagesAcked: 3, rowsAcked: 35),
                SinkStatus(
                    name: "other", enabled: true, url: "file:///y", lagSeconds: nil, lagRows: 0,
                    pagesAcked: 0, rowsAcked: 0),
            ]
        )
        snapshot.record(
            PassLoop.Pass(
                startedAt: Self.passEnd.addingTimeInterval(-0.25), duration: .milliseconds(250),
                result: .success(summary)),
            status: .success(status)
        )

        #expect(
            Self.samples(MetricsRenderer.render(snapshot)) == [
                #"auditlog_export_pages_total{sink="main"} 3"#,
                #"auditlog_export_rows_total{sink="main"} 35"#,
                #"auditlog_export_bytes_total{sink="main"} 1000"#,
                #"auditlog_pass_errors_total{step="purge"} 1"#,
                #"auditlog_pass_errors_total{step="sink"} 1"#,
                "auditlog_passes_total 1",
                "auditlog_up 1",
                "auditlog_last_pass_duration_seconds 0.25",
                "auditlog_last_pass_timestamp_seconds 1764623080",
                #"auditlog_sink_lag_seconds{sink="main"} 1.5"#,
                #"auditlog_sink_lag_rows{sink="main"} 12"#,
                #"auditlog_sink_lag_rows{sink="other"} 0"#,
                "auditlog_pending_entries 4",
                "auditlog_pending_oldest_age_seconds 90",
                "auditlog_default_partition_rows 0",
            ])
    }

    @Test func countersAddUpOverPassesAndAFailedPassIsDown() {
        var snapshot = DaemonSnapshot()
        let exported = PassSummary(sinks: [.init(name: "main", outcome: .drained, pages: 1, rows: 2, bytes: 30)])
        for _ in 0..<2 {
            snapshot.record(
                .init(startedAt: Self.passEnd, duration: .seconds(1), result: .success(exported)), status: nil)
        }
        struct Refused: Error {}
        snapshot.record(.init(startedAt: Self.passEnd, duration: .seconds(1), result: .failure(Refused())), status: nil)

        let samples = Self.samples(MetricsRenderer.render(snapshot))
        #expect(samples.contains(#"auditlog_export_rows_total{sink="main"} 4"#))
        #expect(samples.contains(#"auditlog_pass_errors_total{step="pass"} 1"#))
        #expect(samples.contains("auditlog_passes_total 3"))
        #expect(samples.contains("auditlog_up 0"))
        #expect(samples.contains("auditlog_last_success_timestamp_seconds 1764623081"))
        #expect(!samples.contains { $0.hasPrefix("auditlog_pending_entries") })
    }

    @Test func escapesLabelValues() {
        var snapshot = DaemonSnapshot()
        let name = "a\"b\\c\nd"
        let summary = PassSummary(sinks: [.init(name: name, outcome: .drained, pages: 1, rows: 1, bytes: 1)])
        snapshot.record(.init(startedAt: Self.passEnd, duration: .zero, result: .success(summary)), status: nil)
        #expect(MetricsRenderer.render(snapshot).contains(#"auditlog_export_rows_total{sink="a\"b\\c\nd"} 1"# + "\n"))
    }

    @Test(arguments: [
        ("sink main", "sink"), ("backfill 12", "backfill"), ("purge", "purge"),
        ("list sinks", "list_sinks"), ("timeout_pending", "timeout_pending"),
    ])
    func stepKindsAreBounded(step: String, kind: String) {
        #expect(DaemonSnapshot.stepKind(step) == kind)
    }
}

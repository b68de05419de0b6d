import AuditlogKit
import Testing

@Suite struct PassSummaryLoggingTests {
    @Test func logsThePassEachSinkThatExportedAndEachFailure() {
        let recorder = LineRecorder()
        let summary = PassSummary(
            timedOutEntries: 1,
            sinks: [
                .init(name: "main", outcome: .drained, pages: 2, rows: 30, bytes: 900),
                .init(name: "idle", outcome: .drained),
                .init(name: "offsite", outcome: .failed),
            ],
            backfills: [
                .init(
                    id: 4, export: .init(name: "main", outcome: .drained, pages: 1, rows: 5, bytes: 80),
                    finished: true)
            ],
            failures: [.init(step: "sink offsite", message: "storage unreachable")]
        )
        summary.log(to: recorder.textLogger(), metadata: ["duration": "0.250s"])
        #expect(
            recorder.lines == [
                "auditlogctl: info: pass duration=0.250s failures=1 partitions_created=0 partitions_dropped=0 timed_out=1\n",
                "auditlogctl: info: exported bytes=900 pages=2 rows=30 sink=main\n",
                "auditlogctl: info: backfill exported backfill=4 bytes=80 finished=true pages=1 rows=5 sink=main\n",
                "auditlogctl: sink offsite: storage unreachable step=sink\n",
            ])
    }
}

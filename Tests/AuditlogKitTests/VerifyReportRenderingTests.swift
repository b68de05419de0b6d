import AuditlogKit
import Foundation
import Testing

@Suite struct VerifyReportRenderingTests {
    var report: VerifyReport {
        var report = VerifyReport(sink: "main", url: "file:///x", from: "2026-11-23")
        report.days = [
            .init(
                date: "2026-11-23",
                counts: .init(databasePages: 2, databaseEntries: 5, storedPages: 1, storedEntries: 3)),
            .init(
                date: "2026-11-24",
                counts: .init(
                    databasePages: 1, databaseEntries: 1, storedPages: 1,
                    storedEntries: 1, unknownObjects: 1, backfillObjects: 2)),
        ]
        report.findings = [
            .init(kind: .pageInFlight, objectKey: "a/dt=2026-11-24/main-1.ndjson.gz", message: "in flight"),
            .init(kind: .missingObject, objectKey: "a/dt=2026-11-23/main-2.ndjson.gz", pageID: "2", message: "missing"),
        ]
        return report
    }

    @Test func textHasDaysTotalsAndProblemsFirst() {
        #expect(
            report.renderText() == """
                sink main at file:///x, days 2026-11-23 to …

                DAY         PAGES  ENTRIES  STORED PAGES  STORED ENTRIES  UNKNOWN OBJECTS  BACKFILL OBJECTS
                2026-11-23      2        5             1               3                0                 0
                2026-11-24      1        1             1               1                1                 2
                total           3        6             2               4                1                 2

                1 problem
                error: missing
                note: in flight
                """)
    }

    @Test func jsonIsStableWithTotalsAndSeverities() throws {
        let json = try JSONSerialization.jsonObject(with: Data(report.renderJSON().utf8)) as? [String: Any]
        #expect(json?.keys.sorted() == ["days", "findings", "from", "sink", "succeeded", "to", "totals", "url"])
        #expect(json?["to"] is NSNull && json?["succeeded"] as? Bool == false)
        let totals = json?["totals"] as? [String: Int]
        #expect(
            totals == [
                "databasePages": 3, "databaseEntries": 6, "storedPages": 2, "storedEntries": 4,
                "unknownObjects": 1, "backfillObjects": 2,
            ])
        let findings = json?["findings"] as? [[String: Any]]
        #expect(findings?.map { $0["severity"] as? String } == ["note", "error"])
        #expect(findings?.map { $0["kind"] as? String } == ["pageInFlight", "missingObject"])
        #expect(findings?.first?["pageID"] is NSNull)
    }
}

import Foundation
import Testing

@testable import AuditlogKit

@Suite struct SinkObjectNameTests {
    let page = UUID(uuidString: "01a2b3c4-0000-7000-8000-000000000001")!

    @Test func readsPagesAndBackfillsOfTheSinkOnly() {
        #expect(
            SinkObjectName(key: "audit/dt=2026-11-23/main-\(page.uuidString.lowercased()).ndjson.gz", sink: "main")
                == SinkObjectName(key: "audit/dt=2026-11-23/main-\(page.uuidString).ndjson.gz", sink: "main"))
        let name = SinkObjectName(
            key: "audit/dt=2026-11-23/main-\(page.uuidString.lowercased()).ndjson.gz", sink: "main")
        #expect(name?.stream == "audit" && name?.day == "2026-11-23" && name?.owner == .page(page))
        #expect(
            SinkObjectName(key: "a/dt=2026-11-23/main-backfill-42-\(page).ndjson.gz", sink: "main")?.owner
                == .backfill(id: 42, page: page))
        for key in [
            "audit/dt=2026-11-23/main-eu-\(page).ndjson.gz",
            "audit/dt=2026-11-23/mainx-\(page).ndjson.gz",
            "audit/dt=2026-11-23/main-\(page).ndjson",
            "audit/dt=2026-13-23/main-\(page).ndjson.gz",
            "audit/2026-11-23/main-\(page).ndjson.gz",
            "audit/dt=2026-11-23/deeper/main-\(page).ndjson.gz",
            "audit/dt=2026-11-23/main-backfill-x-\(page).ndjson.gz",
            "audit/dt=2026-11-23/main-backfill--\(page).ndjson.gz",
        ] {
            #expect(SinkObjectName(key: key, sink: "main") == nil, "\(key)")
        }
        #expect(
            SinkObjectName(key: "audit/dt=2026-11-23/main-eu-\(page).ndjson.gz", sink: "main-eu")?.owner == .page(page))
    }

    @Test func utcDaysAreRealDates() {
        #expect(UTCDay("2024-02-29")?.description == "2024-02-29")
        for text in ["2023-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "26-01-01", "2026-01-32", "２０２６-01-01", ""]
        {
            #expect(UTCDay(text) == nil, "\(text)")
        }
        #expect(UTCDay("2026-01-09")! < UTCDay("2026-01-10")!)
    }
}

@testable import AuditlogKit
import Foundation
import Testing

@Suite struct StatusReportRenderingTests {
    /// 2024-05-01T00:00:00Z.
    static let may1 = Date(timeIntervalSince1970: 1_714_521_600)

    static let report = StatusReport(
        extensionVersion: "0.1.0",
        health: .init(
            pendingCount: 42,
            oldestPending: may1.addingTimeInterval(36_000.75),
            partitionCount: 2,
            oldestPartitionStart: may1,
            newestPartitionEnd: nil,
            defaultPartitionRows: 0
        ),
        partitions: [
            .init(name: "entries_20240501", rangeStart: may1, rangeEnd: may1.addingTimeInterval(86_400), totalBytes: 8_192),
            .init(
                name: "entries_20240502",
                rangeStart: may1.addingTimeInterval(86_400),
                rangeEnd: may1.addingTimeInterval(172_800),
                totalBytes: 1_288_490_189
            ),
        ]
    )

    @Test func jsonIsStable() throws {
        #expect(try Self.report.renderJSON() == """
            {
              "extension_version" : "0.1.0",
              "health" : {
                "default_partition_rows" : 0,
                "newest_partition_end" : null,
                "oldest_partition_start" : "2024-05-01T00:00:00Z",
                "oldest_pending" : "2024-05-01T10:00:00Z",
                "partition_count" : 2,
                "pending_count" : 42
              },
              "partitions" : [
                {
                  "name" : "entries_20240501",
                  "range_end" : "2024-05-02T00:00:00Z",
                  "range_start" : "2024-05-01T00:00:00Z",
                  "total_bytes" : 8192
                },
                {
                  "name" : "entries_20240502",
                  "range_end" : "2024-05-03T00:00:00Z",
                  "range_start" : "2024-05-02T00:00:00Z",
                  "total_bytes" : 1288490189
                }
              ]
            }
            """)
    }

    @Test func textIsAligned() {
        #expect(Self.report.renderText() == """
            extension version       0.1.0
            pending entries         42
            oldest pending          2024-05-01 10:00:00Z
            partitions              2
            oldest partition start  2024-05-01 00:00:00Z
            newest partition end    none
            default partition rows  0

            PARTITION         RANGE START           RANGE END                SIZE
            entries_20240501  2024-05-01 00:00:00Z  2024-05-02 00:00:00Z  8.0 KiB
            entries_20240502  2024-05-02 00:00:00Z  2024-05-03 00:00:00Z  1.2 GiB
            """)
    }

    @Test(arguments: [
        (0, "0 B"),
        (1_023, "1023 B"),
        (1_024, "1.0 KiB"),
        (1_536, "1.5 KiB"),
        (1_048_575, "1.0 MiB"),
        (Int64.max, "8.0 EiB"),
    ] as [(Int64, String)])
    func byteCounts(bytes: Int64, expected: String) {
        #expect(StatusReport.byteCount(bytes) == expected)
    }
}

import Foundation
import Testing

@testable import AuditlogKit

@Suite struct StatusReportRenderingTests {
    /// 2024-05-01T00:00:00Z.
    static let may1 = Date(timeIntervalSince1970: 1_714_521_600)

    static let report = StatusReport(
        extensionVersion: "0.5.0",
        edition: .sql,
        health: .init(
            pendingCount: 42,
            oldestPending: may1.addingTimeInterval(36_000.75),
            partitionCount: 2,
            oldestPartitionStart: may1,
            newestPartitionEnd: nil,
            defaultPartitionRows: 0,
            lastTickAt: may1.addingTimeInterval(36_030),
            settledHorizon: may1.addingTimeInterval(36_000),
            oldestTransaction: nil,
            openImports: 1,
            oldestOpenImportStart: may1,
            openImportAbandoned: true
        ),
        partitions: [
            .init(
                name: "entries_20240501", rangeStart: may1, rangeEnd: may1.addingTimeInterval(86_400), totalBytes: 8_192
            ),
            .init(
                name: "entries_20240502",
                rangeStart: may1.addingTimeInterval(86_400),
                rangeEnd: may1.addingTimeInterval(172_800),
                totalBytes: 1_288_490_189
            ),
        ],
        sinks: [
            .init(
                name: "offsite", enabled: true, url: "s3://audit/prod", lagSeconds: 187.5, lagRows: 12,
                pagesAcked: 3, rowsAcked: 20_000),
            .init(
                name: "paused", enabled: false, url: "file:///srv/audit", lagSeconds: nil, lagRows: 0,
                pagesAcked: 0, rowsAcked: 0),
        ],
        backfills: [
            .init(
                id: 3, sink: "offsite", status: "running", percent: 42.5, rowsExported: 1_200, pagesExported: 1,
                rangeStart: may1, rangeEnd: may1.addingTimeInterval(86_400))
        ],
        exportJobs: [
            .init(
                id: 9, status: "done", stream: "audit", tenantID: "acme", requestedBy: "alice@acme", format: "csv",
                rowsExported: 77, attempts: 1, downloadURL: "https://example.test/job-9.csv?sig", error: nil)
        ]
    )

    @Test func jsonIsStable() throws {
        #expect(
            try Self.report.renderJSON() == """
                {
                  "backfills" : [
                    {
                      "id" : 3,
                      "pages_exported" : 1,
                      "percent" : 42.5,
                      "range_end" : "2024-05-02T00:00:00Z",
                      "range_start" : "2024-05-01T00:00:00Z",
                      "rows_exported" : 1200,
                      "sink" : "offsite",
                      "status" : "running"
                    }
                  ],
                  "edition" : "sql",
                  "export_jobs" : [
                    {
                      "attempts" : 1,
                      "bytes" : null,
                      "created_at" : null,
                      "download_url" : "https://example.test/job-9.csv?sig",
                      "error" : null,
                      "finished_at" : null,
                      "format" : "csv",
                      "id" : 9,
                      "link_expires_at" : null,
                      "max_attempts" : null,
                      "object_url" : null,
                      "parts_exported" : 0,
                      "range_end" : null,
                      "range_start" : null,
                      "requested_by" : "alice@acme",
                      "rows_exported" : 77,
                      "sha256" : null,
                      "status" : "done",
                      "stream" : "audit",
                      "tenant_id" : "acme"
                    }
                  ],
                  "extension_version" : "0.5.0",
                  "health" : {
                    "default_partition_rows" : 0,
                    "last_tick_at" : "2024-05-01T10:00:30Z",
                    "newest_partition_end" : null,
                    "oldest_open_import_start" : "2024-05-01T00:00:00Z",
                    "oldest_partition_start" : "2024-05-01T00:00:00Z",
                    "oldest_pending" : "2024-05-01T10:00:00Z",
                    "oldest_transaction" : null,
                    "open_import_abandoned" : true,
                    "open_imports" : 1,
                    "partition_count" : 2,
                    "pending_count" : 42,
                    "settled_horizon" : "2024-05-01T10:00:00Z"
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
                  ],
                  "sinks" : [
                    {
                      "enabled" : true,
                      "lag_rows" : 12,
                      "lag_seconds" : 187.5,
                      "name" : "offsite",
                      "pages_acked" : 3,
                      "rows_acked" : 20000,
                      "url" : "s3://audit/prod"
                    },
                    {
                      "enabled" : false,
                      "lag_rows" : 0,
                      "lag_seconds" : null,
                      "name" : "paused",
                      "pages_acked" : 0,
                      "rows_acked" : 0,
                      "url" : "file:///srv/audit"
                    }
                  ]
                }
                """)
    }

    @Test func textIsAligned() {
        #expect(
            Self.report.renderText() == """
                extension               0.5.0 (SQL edition)
                pending entries         42
                oldest pending          2024-05-01 10:00:00Z
                partitions              2
                oldest partition start  2024-05-01 00:00:00Z
                newest partition end    none
                default partition rows  0
                last tick               2024-05-01 10:00:30Z
                settled horizon         2024-05-01 10:00:00Z
                oldest transaction      none
                open imports            1 since 2024-05-01 00:00:00Z (an importer is gone: the next tick abandons its span)

                PARTITION         RANGE START           RANGE END                SIZE
                entries_20240501  2024-05-01 00:00:00Z  2024-05-02 00:00:00Z  8.0 KiB
                entries_20240502  2024-05-02 00:00:00Z  2024-05-03 00:00:00Z  1.2 GiB

                SINK     ENABLED    LAG  LAG ENTRIES  PAGES ACKED  ENTRIES ACKED  URL
                offsite  yes      3m07s           12            3          20000  s3://audit/prod
                paused   no           -            0            0              0  file:///srv/audit

                ID  SINK     STATUS   PROGRESS           ENTRIES  PAGES  WINDOW
                 3  offsite  running  [####      ]  42%     1200      1  2024-05-01T00:00:00Z .. 2024-05-02T00:00:00Z

                JOB  STATUS  STREAM  TENANT  FORMAT  ENTRIES  ATTEMPTS  REQUESTED BY
                  9  done    audit   acme    csv          77         1  alice@acme
                """)
    }

    @Test(
        arguments: [
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

import Foundation
import Testing

@testable import AuditlogKit

@Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
struct StatusReportFetchTests {
    @Test func failsClearlyWithoutTheExtension() async throws {
        let db = try await TestDatabase.connect()
        try #require(
            try await Auditlog.installed(on: db) == nil,
            "AUDITLOG_TEST_DATABASE must name a database without auditlog"
        )
        await #expect(throws: AuditlogError.extensionNotInstalled) { try await StatusReport.fetch(from: db) }
        #expect(
            AuditlogError.extensionNotInstalled.description
                == "auditlog is not installed in this database (CREATE EXTENSION auditlog, "
                + "or psql -v ON_ERROR_STOP=1 -f auditlog.sql for the SQL edition)"
        )
    }

    /// Reads stand-in views with the extension's column types, created in a
    /// transaction that is rolled back, under a time zone far from UTC.
    @Test func readsTheViewsIndependentlyOfTimeZone() async throws {
        let db = try await TestDatabase.connect()
        try await db.query("BEGIN")
        defer { waitUntilDone { _ = try? await db.query("ROLLBACK") } }
        try await db.query("SET LOCAL TIME ZONE 'Pacific/Kiritimati'")
        try await db.query("CREATE SCHEMA auditlog")
        try await db.query(
            """
            CREATE VIEW auditlog.health AS SELECT
                42::bigint AS pending_count,
                timestamptz '2024-05-01 10:00:00.25+00' AS oldest_pending,
                2 AS partition_count,
                timestamptz '2024-05-01 00:00:00+00' AS oldest_partition_start,
                NULL::timestamptz AS newest_partition_end,
                7::bigint AS default_partition_rows,
                timestamptz '2024-05-01 10:00:30+00' AS last_tick_at,
                timestamptz '2024-05-01 10:00:00+00' AS settled_horizon,
                'pid 7 (app) in a transaction since 2024-05-01 09:00:00+00'::text AS oldest_transaction,
                2::bigint AS open_imports,
                timestamptz '2024-04-30 00:00:00+00' AS oldest_open_import_start,
                true AS open_import_abandoned
            """)
        try await db.query(
            """
            CREATE VIEW auditlog.partitions (partition_name, range_start, range_end, total_bytes) AS VALUES
                ('entries_20240502', timestamptz '2024-05-02+00', timestamptz '2024-05-03+00', 16384::bigint),
                ('entries_20240501', timestamptz '2024-05-01+00', timestamptz '2024-05-02+00', 8192::bigint)
            """)

        let may1 = Date(timeIntervalSince1970: 1_714_521_600)
        #expect(
            try await StatusReport.Health.fetch(from: db)
                == .init(
                    pendingCount: 42,
                    oldestPending: may1.addingTimeInterval(36_000.25),
                    partitionCount: 2,
                    oldestPartitionStart: may1,
                    newestPartitionEnd: nil,
                    defaultPartitionRows: 7,
                    lastTickAt: may1.addingTimeInterval(36_030),
                    settledHorizon: may1.addingTimeInterval(36_000),
                    oldestTransaction: "pid 7 (app) in a transaction since 2024-05-01 09:00:00+00",
                    openImports: 2,
                    oldestOpenImportStart: may1.addingTimeInterval(-86_400),
                    openImportAbandoned: true
                ))
        #expect(
            try await StatusReport.Partition.fetchAll(from: db) == [
                .init(
                    name: "entries_20240501", rangeStart: may1, rangeEnd: may1.addingTimeInterval(86_400),
                    totalBytes: 8192),
                .init(
                    name: "entries_20240502",
                    rangeStart: may1.addingTimeInterval(86_400),
                    rangeEnd: may1.addingTimeInterval(172_800),
                    totalBytes: 16384
                ),
            ])
    }
}

@Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
struct StatusReportWithExtensionTests {
    /// Compares the report with the extension's views, all read in one
    /// repeatable-read snapshot, in a database with one sink and two begun
    /// entries.
    @Test func matchesTheExtensionsViews() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let sink = try await ScratchSink(on: db)
        defer { sink.remove() }
        try await db.query("SELECT auditlog.begin(operation => 'status.begun.' || n) FROM generate_series(1, 2) AS n")
        try await db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        defer { waitUntilDone { _ = try? await db.query("ROLLBACK") } }

        let report = try await StatusReport.fetch(from: db)

        #expect(report.extensionVersion == Auditlog.toolVersion && report.edition == .c)
        let pending = try await db.query("SELECT count(*) FROM auditlog.pending").singleRow(of: "auditlog.pending")
        #expect(report.health.pendingCount == 2)
        #expect(report.health.pendingCount == (try pending[0, as: Int64.self]))
        let partitions = try await db.query(
            """
            SELECT partition_name, extract(epoch FROM range_start), extract(epoch FROM range_end), total_bytes
            FROM auditlog.partitions
            ORDER BY range_start
            """
        ).rows.map { row in
            StatusReport.Partition(
                name: try row[0, as: String.self],
                rangeStart: Date(timeIntervalSince1970: try row[1, as: Double.self]),
                rangeEnd: Date(timeIntervalSince1970: try row[2, as: Double.self]),
                totalBytes: try row[3, as: Int64.self]
            )
        }
        #expect(report.partitions == partitions)
        let sinks = try await db.query("SELECT sink FROM auditlog.sink_status ORDER BY sink").rows.map {
            try $0[0, as: String.self]
        }
        #expect(report.sinks.map(\.name) == sinks && sinks == [sink.name])
        #expect(report.backfills == [] && report.exportJobs == [])
    }
}

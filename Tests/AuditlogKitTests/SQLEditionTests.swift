import AuditlogKit
import Foundation
import Testing

/// `auditlogctl`, unchanged, against the SQL edition installed as a managed
/// service's customer would: `psql -f extension/sql-edition/auditlog.sql`
/// (no `pg_extension` row) by a role that owns the database, has
/// `CREATEROLE` and is not a superuser, which then runs everything.
/// `scripts/test.sh` builds the script (`make -C extension sql-edition`)
/// before the Swift tests; without it the suite is skipped, saying so.
@Suite(
    .enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"),
    .enabled(
        if: SQLEditionScript.path != nil,
        "extension/sql-edition/auditlog.sql is not built: run make -C extension sql-edition")
)
struct SQLEditionTests {
    @Test func auditlogctlExportsEveryEntryOnceFromTheSQLEdition() async throws {
        let database = try await ScratchDatabase.withoutAuditlog()
        let owner = try await ScratchRole(owning: database)
        defer {
            database.drop()
            owner.remove()
        }
        let db = try await PostgresConnection(conninfo: owner.conninfo)
        #expect(
            try await db.query("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
                .singleRow(of: "pg_roles").values == ["f", "t"])

        try SQLEditionScript.install(conninfo: owner.conninfo)

        #expect(try await db.query("SELECT FROM pg_extension WHERE extname = 'auditlog'").rows.isEmpty)
        #expect(try await Auditlog.installed(on: db) == .init(edition: .sql, version: Auditlog.toolVersion))
        let version = try AuditlogCtlProcess.run(["version", "--database", owner.conninfo])
        #expect(version.status == 0, "\(version.stderr)")
        #expect(
            version.stdout == "auditlogctl \(Auditlog.toolVersion)\nextension \(Auditlog.toolVersion) (SQL edition)\n")

        let sink = try await ScratchSink(on: db)
        defer { sink.remove() }
        let ids = try await sink.record(7, on: db)

        let run = try AuditlogCtlProcess.run([
            "run", "--database", owner.conninfo, "--sink", sink.name, "--retain", "100 years", "--max-rows", "3",
        ])

        #expect(run.status == 0, "\(run.stderr)")
        #expect(try sink.exportedIDs().sorted() == ids.sorted())
        let keys = try await sink.ackedObjectKeys(on: db)
        #expect(try keys.count == 3 && sink.directory.files() == keys)
        let acked = try await db.query("SELECT rows_acked FROM auditlog.sink_status WHERE sink = $1", [sink.name])
            .singleRow(of: "auditlog.sink_status")
        #expect(try acked[0, as: Int64.self] == 7)

        let status = try AuditlogCtlProcess.run(["status", "--json", "--database", owner.conninfo])
        #expect(status.status == 0, "\(status.stderr)")
        let report = try JSONDecoder().decode(StatusSummary.self, from: Data(status.stdout.utf8))
        #expect(report.edition == "sql" && report.extensionVersion == Auditlog.toolVersion)
        #expect(report.sinks.map(\.name) == [sink.name] && report.sinks.first?.rowsAcked == 7)
        let text = try AuditlogCtlProcess.run(["status", "--database", owner.conninfo])
        #expect(text.stdout.hasPrefix("extension               \(Auditlog.toolVersion) (SQL edition)\n"))
    }

    /// What the test reads of `auditlogctl status --json`.
    private struct StatusSummary: Decodable {
        struct Sink: Decodable {
            let name: String
            let rowsAcked: Int64

            enum CodingKeys: String, CodingKey {
                case name
                case rowsAcked = "rows_acked"
            }
        }

        let edition: String
        let extensionVersion: String
        let sinks: [Sink]

        enum CodingKeys: String, CodingKey {
            case edition
            case extensionVersion = "extension_version"
            case sinks
        }
    }
}

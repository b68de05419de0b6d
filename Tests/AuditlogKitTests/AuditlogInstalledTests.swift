import AuditlogKit
import Foundation
import Testing

/// `Auditlog.installed(on:)` on each kind of installation the cluster can
/// hold: the C edition of this release, an older C release without
/// `auditlog.edition()`, the SQL edition created as an extension (its
/// `edition()` stood in for), and nothing. (The SQL edition installed with
/// `psql -f`: ``SQLEditionTests``.)
@Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
struct AuditlogInstalledTests {
    @Test func theCEditionOfThisRelease() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()

        #expect(try await Auditlog.installed(on: db) == .init(edition: .c, version: Auditlog.toolVersion))
    }

    /// Releases before 0.5.0 have no `auditlog.edition()`: the C edition,
    /// at the extension's version. A missing function is no error, so the
    /// caller's transaction goes on.
    @Test func aCReleaseWithoutEditionFunction() async throws {
        let database = try await ScratchDatabase.withoutAuditlog()
        defer { database.drop() }
        let db = try await database.connect()
        try await db.query("CREATE EXTENSION auditlog VERSION '0.4.0'")
        try await db.query("BEGIN")
        defer { waitUntilDone { _ = try? await db.query("ROLLBACK") } }

        #expect(try await Auditlog.installed(on: db) == .init(edition: .c, version: "0.4.0"))
        #expect(try await db.query("SELECT 1").rows.count == 1)
    }

    /// The SQL edition created as an extension has a `pg_extension` row
    /// too: what `edition()` says wins. (This server has the C edition's
    /// files, so its `edition()` is replaced by the SQL edition's, in a
    /// transaction rolled back.)
    @Test func theSQLEditionAsAnExtension() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        try await db.query("BEGIN")
        defer { waitUntilDone { _ = try? await db.query("ROLLBACK") } }
        try await db.query(
            """
            CREATE OR REPLACE FUNCTION auditlog.edition(OUT edition text, OUT version text)
            RETURNS record LANGUAGE sql IMMUTABLE RETURN ('sql'::text, '0.5.0'::text)
            """)

        #expect(try await Auditlog.installed(on: db) == .init(edition: .sql, version: "0.5.0"))
        #expect(try await StatusReport.fetch(from: db).edition == .sql)
    }

    @Test func anEditionItDoesNotKnowIsAnError() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        try await db.query("BEGIN")
        defer { waitUntilDone { _ = try? await db.query("ROLLBACK") } }
        try await db.query(
            """
            CREATE OR REPLACE FUNCTION auditlog.edition(OUT edition text, OUT version text)
            RETURNS record LANGUAGE sql IMMUTABLE RETURN ('wasm'::text, '9.0.0'::text)
            """)

        let error = await #expect(throws: PostgresError.self) { try await Auditlog.installed(on: db) }
        #expect(error?.kind == .client && error?.message.contains("wasm") == true)
    }

    @Test func nothing() async throws {
        let database = try await ScratchDatabase.withoutAuditlog()
        defer { database.drop() }
        let db = try await database.connect()

        #expect(try await Auditlog.installed(on: db) == nil)
    }

    @Test func theEditionsPrintAsAuditlogctlShowsThem() {
        #expect(Auditlog.Installed(edition: .c, version: "0.5.0").description == "0.5.0 (C edition)")
        #expect(Auditlog.Installed(edition: .sql, version: "0.5.0").description == "0.5.0 (SQL edition)")
    }
}

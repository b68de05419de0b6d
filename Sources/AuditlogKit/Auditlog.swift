/// Facts about auditlog shared by the library and `auditlogctl`.
public enum Auditlog {
    /// The version of `auditlogctl` and AuditlogKit.
    public static let toolVersion = "0.5.0"

    /// Returns which edition and release of auditlog the connected database
    /// has, or `nil` when it has neither edition.
    ///
    /// Every edition since 0.5.0 says so itself, through
    /// `auditlog.edition()`: the C edition, the SQL edition created as an
    /// extension, and the SQL edition installed with `psql -f auditlog.sql`,
    /// which leaves no row in `pg_extension`. A C release before 0.5.0 has
    /// no such function; its version is the extension's `extversion`.
    ///
    /// The first query looks the function up (`to_regprocedure` is `NULL`,
    /// not an error, when it is missing, so a transaction the caller has
    /// open goes on) and reads `extversion` too: an older release or an
    /// empty database takes that one query. When the function is there, a
    /// second query calls it (SQL cannot call a function it only may have).
    ///
    /// - Throws: ``PostgresError`` when a query fails (a role without
    ///   `USAGE` on schema `auditlog`, or without `EXECUTE` on
    ///   `auditlog.edition()`), or when the edition is neither `c` nor `sql`.
    public static func installed(on connection: PostgresConnection) async throws -> Installed? {
        let found = try await connection.query(
            """
            SELECT to_regprocedure('auditlog.edition()') IS NOT NULL AS has_edition,
                   (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'auditlog') AS extversion
            """
        ).singleRow(of: "to_regprocedure")
        guard try found.decode(Bool.self, "has_edition") else {
            return try found.decode(String?.self, "extversion").map { Installed(edition: .c, version: $0) }
        }
        let row = try await connection.query("SELECT edition, version FROM auditlog.edition()")
            .singleRow(of: "auditlog.edition()")
        return Installed(
            edition: try row.decode(Edition.self, "edition"), version: try row.decode(String.self, "version"))
    }
}

import AuditlogKit
import Foundation

/// A login role made for one test, member of one of the extension's roles
/// (or the owner of a database), so that a test runs as an operator would:
/// without superuser rights.
struct ScratchRole {
    let name: String
    /// The test's database's connection string, logging in as this role.
    let conninfo: String

    /// Creates the role in `group` (`auditlog_reader`, `auditlog_admin`...),
    /// to log in to `database`; call ``remove()`` when done (roles belong to
    /// the cluster, not to the database).
    init(in group: String, for database: ScratchDatabase) async throws {
        name =
            "swift_\(group.replacingOccurrences(of: "auditlog_", with: ""))_\(UUID().uuidString.prefix(8).lowercased())"
        conninfo = ScratchDatabase.conninfo(database.conninfo, setting: "user", to: name)
        try await TestDatabase.connect().query("CREATE ROLE \(name) LOGIN IN ROLE \(group)")
    }

    /// Creates a login role with `CREATEROLE`, in no group and not a
    /// superuser, and makes it the owner of `database` (one without
    /// auditlog: ``ScratchDatabase/withoutAuditlog()``): what a managed
    /// Postgres gives its customer, who installs the SQL edition. Call
    /// ``remove()`` when done, after dropping the database.
    init(owning database: ScratchDatabase) async throws {
        name = "swift_owner_\(UUID().uuidString.prefix(8).lowercased())"
        conninfo = ScratchDatabase.conninfo(database.conninfo, setting: "user", to: name)
        let server = try await TestDatabase.connect()
        try await server.query("CREATE ROLE \(name) LOGIN CREATEROLE NOSUPERUSER")
        try await server.query("ALTER DATABASE \(database.name) OWNER TO \(name)")
    }

    /// Drops the role.
    func remove() {
        let name = name
        waitUntilDone {
            _ = try? await TestDatabase.connect().query("DROP ROLE \(name)")
        }
    }
}

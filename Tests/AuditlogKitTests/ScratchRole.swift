import AuditlogKit
import Foundation

/// A login role made for one test, member of one of the extension's roles,
/// so that a test runs as an operator would: without superuser rights.
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

    /// Drops the role.
    func remove() {
        let name = name
        waitUntilDone {
            _ = try? await TestDatabase.connect().query("DROP ROLE \(name)")
        }
    }
}

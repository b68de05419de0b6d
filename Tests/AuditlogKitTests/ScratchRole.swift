import AuditlogKit
import Foundation

/// A login role made for one test, member of one of the extension's roles,
/// so that a test runs as an operator would: without superuser rights.
struct ScratchRole {
    let name: String

    /// Creates the role in `group` (`auditlog_reader`, `auditlog_admin`...);
    /// call ``remove(on:)`` when done.
    init(in group: String, on db: PostgresConnection) throws {
        name = "swift_\(group.replacingOccurrences(of: "auditlog_", with: ""))_\(UUID().uuidString.prefix(8).lowercased())"
        try db.query("CREATE ROLE \(name) LOGIN IN ROLE \(group)")
    }

    /// The test database's connection string, logging in as this role.
    var conninfo: String {
        "\(TestDatabase.withExtension ?? "") user=\(name)"
    }

    func remove(on db: PostgresConnection) {
        _ = try? db.query("DROP ROLE \(name)")
    }
}

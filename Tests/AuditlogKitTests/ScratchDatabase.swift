import AuditlogKit
import Foundation
import Testing

/// A database made for one test, with the auditlog extension installed and
/// its partitions made, on the cluster of `AUDITLOG_TEST_DATABASE`: a copy
/// of a template made once per test process (quicker than installing the
/// extension each time), which is dropped when the process exits. (Or one
/// without auditlog: ``withoutAuditlog()``.)
///
/// No other test writes, ticks or exports in it, so a test can count
/// exactly what it did: its entries are the log's only ones, and a batch is
/// cut only by its own ticks. (The settled horizon is still the cluster's:
/// a transaction open in any database holds it back.)
///
/// Make one per test and drop it when the test ends, failed or not:
///
/// ```swift
/// let database = try await ScratchDatabase()
/// defer { database.drop() }
/// let db = try await database.connect()
/// ```
struct ScratchDatabase: Sendable {
    /// `auditlog_test_<12 hex>`.
    let name: String

    /// `AUDITLOG_TEST_DATABASE` with `dbname` replaced by ``name``: the
    /// same server and superuser, for connections and for `auditlogctl
    /// --database`.
    let conninfo: String

    /// Creates the database as a copy of the template.
    init() async throws {
        let server = try #require(TestDatabase.plain, "set AUDITLOG_TEST_DATABASE to a superuser's connection")
        let template = try await Self.template.value
        name = Self.uniqueName()
        conninfo = Self.conninfo(server, setting: "dbname", to: name)
        try await TestDatabase.connect().query("CREATE DATABASE \(name) TEMPLATE \(template)")
    }

    /// Creates a database without auditlog, a copy of `template0`, for
    /// the tests of installing it: an older release, the SQL edition.
    static func withoutAuditlog() async throws -> ScratchDatabase {
        let server = try #require(TestDatabase.plain, "set AUDITLOG_TEST_DATABASE to a superuser's connection")
        let database = ScratchDatabase(name: uniqueName(), server: server)
        try await TestDatabase.connect().query("CREATE DATABASE \(database.name) TEMPLATE template0")
        return database
    }

    private init(name: String, server: String) {
        self.name = name
        conninfo = Self.conninfo(server, setting: "dbname", to: name)
    }

    /// A new connection to the database.
    func connect(statementTimeout: String? = nil) async throws -> PostgresConnection {
        try await PostgresConnection(conninfo: conninfo, statementTimeout: statementTimeout)
    }

    /// Drops the database, ending whatever sessions are still connected
    /// to it (the test's own, a killed `auditlogctl`'s). Records an issue if
    /// it cannot.
    func drop() {
        let name = name
        waitUntilDone {
            do {
                try await TestDatabase.connect().query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            } catch {
                Issue.record("could not drop the scratch database \(name): \(error)")
            }
        }
    }

    /// The template's name, fixed for the process so that the `atexit`
    /// handler, a C function, can name it.
    private static let templateName = uniqueName(prefix: "auditlog_test_template_")

    /// The template, made on first use: `template1` with the extension
    /// installed and the coming days' partitions made. No session may be
    /// connected to it while it is copied: the one that made it is closed
    /// (the server waits a few seconds for such a session to end).
    private static let template = Task<String, any Error> {
        try await TestDatabase.connect().query("CREATE DATABASE \(templateName)")
        atexit {
            waitUntilDone {
                _ = try? await TestDatabase.connect().query(
                    "DROP DATABASE IF EXISTS \(ScratchDatabase.templateName) WITH (FORCE)")
            }
        }
        let db = try await PostgresConnection(
            conninfo: conninfo(#require(TestDatabase.plain), setting: "dbname", to: templateName))
        try await db.query("CREATE EXTENSION auditlog")
        try await db.query("SELECT auditlog.ensure_partitions()")
        return templateName
    }

    /// `<prefix><12 hex>`.
    private static func uniqueName(prefix: String = "auditlog_test_") -> String {
        prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
    }

    /// `conninfo` with `keyword` (`dbname`, `user`) set to `value`: in
    /// libpq's `keyword=value` form the last of a keyword wins, and in a URI
    /// a query parameter overrides the path and the user before the host.
    static func conninfo(_ conninfo: String, setting keyword: String, to value: String) -> String {
        guard conninfo.hasPrefix("postgresql://") || conninfo.hasPrefix("postgres://") else {
            return "\(conninfo) \(keyword)=\(value)"
        }
        return conninfo + (conninfo.contains("?") ? "&" : "?") + "\(keyword)=\(value)"
    }
}

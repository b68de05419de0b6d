import AuditlogKit
import Foundation
import Testing

/// The server the tests may use, named by an environment variable.
enum TestDatabase {
    /// `AUDITLOG_TEST_DATABASE`: a superuser's connection to a database
    /// without the auditlog extension (`postgres`). Tests of the extension
    /// make a ``ScratchDatabase`` of their own through it. Tests that need
    /// it are skipped when it is unset.
    static let plain = ProcessInfo.processInfo.environment["AUDITLOG_TEST_DATABASE"]

    /// Connects to ``plain``.
    static func connect(statementTimeout: String? = nil) async throws -> PostgresConnection {
        try await PostgresConnection(conninfo: #require(plain), statementTimeout: statementTimeout)
    }
}

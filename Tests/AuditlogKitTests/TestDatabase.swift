import AuditlogKit
import Foundation
import Testing

/// The databases the tests may use, named by environment variables.
enum TestDatabase {
    /// `AUDITLOG_TEST_DATABASE`: a database without the auditlog extension.
    /// Tests that need it are skipped when it is unset.
    static let plain = ProcessInfo.processInfo.environment["AUDITLOG_TEST_DATABASE"]

    /// `AUDITLOG_TEST_DATABASE_WITH_EXTENSION`: a database with the auditlog
    /// extension installed. Tests that need it are skipped when it is unset.
    static let withExtension = ProcessInfo.processInfo.environment["AUDITLOG_TEST_DATABASE_WITH_EXTENSION"]

    /// Connects to ``plain``.
    static func connect(statementTimeout: String? = nil) throws -> PostgresConnection {
        try PostgresConnection(conninfo: #require(plain), statementTimeout: statementTimeout)
    }

    /// Connects to ``withExtension``.
    static func connectWithExtension() throws -> PostgresConnection {
        try PostgresConnection(conninfo: #require(withExtension))
    }
}

import ArgumentParser
import AuditlogKit
import Logging

/// The options every command that talks to the database takes.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: [.customShort("d"), .long],
        help: ArgumentHelp(
            "A libpq connection string or postgresql:// URI.",
            discussion:
                "Without it, libpq's defaults apply: the PG* environment variables, service files and ~/.pgpass.",
            valueName: "conninfo"
        )
    )
    var database: String?

    @Option(
        help: ArgumentHelp(
            "The statement_timeout for each query, in PostgreSQL units ('500ms', '5s', '1min'); '0' for none.",
            valueName: "duration"
        )
    )
    var statementTimeout = "5s"

    /// Opens a connection with these options, logging the server's notices
    /// to `logger` when one is given.
    func connect(logger: Logger? = nil) async throws -> PostgresConnection {
        try await PostgresConnection(conninfo: database ?? "", statementTimeout: statementTimeout, logger: logger)
    }
}

import ArgumentParser
import AuditlogKit
import Foundation

/// The `auditlogctl` command: parses the command line and runs a subcommand.
@main
struct AuditlogCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auditlogctl",
        abstract: "Control plane for the auditlog PostgreSQL extension.",
        discussion: """
            auditlogctl works with a database where the auditlog extension is \
            installed (CREATE EXTENSION auditlog). Each command opens its own \
            connection.

            CONNECTING
            --database takes a libpq connection string \
            ('host=db dbname=app user=auditor') or URI \
            ('postgresql://auditor@db/app?sslmode=verify-full'). Without it, \
            libpq's defaults apply: PGHOST, PGPORT, PGDATABASE, PGUSER, \
            PGSERVICE, PGSSLMODE and the other PG* environment variables, with \
            the password from PGPASSWORD or ~/.pgpass. Prefer those to a \
            password in --database, which other users can see in the process \
            list. auditlogctl never prints passwords.

            EXIT CODES
            0   success
            1   failure: a query failed, the extension is not installed, ...
            2   the connection to the database failed or was lost
            64  the command line is invalid

            Errors go to standard error as one line: auditlogctl: <message>
            """,
        version: Auditlog.toolVersion,
        subcommands: [
            Run.self, Daemon.self, Sink.self, Backfill.self, Export.self, Status.self, Verify.self, Version.self,
        ]
    )

    /// Parses the command line and runs the command. An invalid command line
    /// is reported like every other error, on one line, with exit code 64;
    /// `--help` and `--version` print in full as usual.
    static func main() async {
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            guard exitCode(for: error) != .success else { exit(withError: error) }
            let reason = message(for: error).split(whereSeparator: \.isNewline).joined(separator: "; ")
            printError("\(reason) (see 'auditlogctl --help')")
            Foundation.exit(exitCode(for: error).rawValue)
        }
        do {
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                var command = command
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

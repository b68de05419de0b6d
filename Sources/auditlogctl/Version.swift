import ArgumentParser
import AuditlogKit

/// `auditlogctl version`: prints the tool's version and the extension's.
struct Version: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the versions of auditlogctl and of the auditlog extension.",
        discussion: """
            Prints 'auditlogctl <version>', then 'extension <version> (<C or \
            SQL> edition)' for the auditlog installed in the database. When the \
            database cannot be reached or has no auditlog, a note goes to \
            standard error instead and the command still succeeds.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        print("auditlogctl \(Auditlog.toolVersion)")
        do {
            if let installed = try await Auditlog.installed(on: connection.connect()) {
                print("extension \(installed)")
            } else {
                printError("note: \(AuditlogError.extensionNotInstalled)")
            }
        } catch {
            printError("note: no extension version: \(error)")
        }
    }
}

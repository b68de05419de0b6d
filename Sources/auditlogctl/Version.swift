import ArgumentParser
import AuditlogKit

/// `auditlogctl version`: prints the tool's version and the extension's.
struct Version: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the versions of auditlogctl and of the auditlog extension.",
        discussion: """
            Prints 'auditlogctl <version>', then 'extension <version>' for the \
            extension installed in the database. When the database cannot be \
            reached or has no extension, a note goes to standard error instead \
            and the command still succeeds.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        print("auditlogctl \(Auditlog.toolVersion)")
        do {
            if let version = try await Auditlog.installedExtensionVersion(on: connection.connect()) {
                print("extension \(version)")
            } else {
                printError("note: \(AuditlogError.extensionNotInstalled)")
            }
        } catch {
            printError("note: no extension version: \(error)")
        }
    }
}

import ArgumentParser
import AuditlogKit
import Foundation

extension ParsableCommand {
    /// Runs `body`, reporting a failure as one line on standard error and
    /// exiting with the code documented in the root command's help: 2 when
    /// the connection to the database failed or was lost, 1 otherwise.
    func reportingErrors(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as PostgresError where error.kind == .connection {
            printError("\(error)")
            throw ExitCode(2)
        } catch {
            printError("\(error)")
            throw ExitCode.failure
        }
    }
}

/// Writes `auditlogctl: <message>` and a newline to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("auditlogctl: \(message)\n".utf8))
}

import ArgumentParser
import AuditlogKit
import Foundation

extension ParsableCommand {
    /// Runs `body`, reporting a failure as one line on standard error and
    /// exiting with the code documented in the root command's help: 2 when
    /// the connection to the database failed or was lost, 1 otherwise. An
    /// ``ExitCode`` thrown by `body` passes through unreported.
    func reportingErrors(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch {
            throw exitCode(reporting: error)
        }
    }

    /// Runs `body` like the synchronous ``reportingErrors(_:)``.
    func reportingErrors(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            throw exitCode(reporting: error)
        }
    }

    private func exitCode(reporting error: any Error) -> ExitCode {
        switch error {
        case let exitCode as ExitCode:
            return exitCode
        case let error as PostgresError where error.kind == .connection:
            printError("\(error)")
            return ExitCode(2)
        default:
            printError("\(error)")
            return .failure
        }
    }
}

/// Writes `auditlogctl: <message>` and a newline to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("auditlogctl: \(message)\n".utf8))
}

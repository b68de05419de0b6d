import ArgumentParser
import AuditlogKit
import Foundation
import Logging

extension ParsableCommand {
    /// Runs `body`, reporting a failure as one line on standard error and
    /// exiting with the code documented in the root command's help: 2 when
    /// the connection to the database failed or was lost, 1 otherwise. An
    /// ``ExitCode`` thrown by `body` passes through unreported.
    func reportingErrors(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            throw exitCode(reporting: error, to: printError)
        }
    }

    /// Runs `body` like ``reportingErrors(_:)``, but reports the failure
    /// through `logger`, at level `error`.
    func reportingErrors(to logger: Logger, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            throw exitCode(reporting: error) { logger.error("\($0)") }
        }
    }

    private func exitCode(reporting error: any Error, to report: (String) -> Void = printError) -> ExitCode {
        switch error {
        case let exitCode as ExitCode:
            return exitCode
        case let error as PostgresError where error.kind == .connection:
            report("\(error)")
            return ExitCode(2)
        default:
            report("\(error)")
            return .failure
        }
    }
}

/// Writes `auditlogctl: <message>` and a newline to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("auditlogctl: \(message)\n".utf8))
}

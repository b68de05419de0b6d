import Foundation

/// `extension/sql-edition/auditlog.sql`, the SQL edition for `psql -f`, as
/// `make -C extension sql-edition` writes it (`scripts/test.sh` does before
/// the Swift tests).
enum SQLEditionScript {
    /// The script's path, or `nil` when it has not been built.
    static let path: String? = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("extension/sql-edition/auditlog.sql").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }()

    /// Installs the SQL edition as its header says to: `psql -v
    /// ON_ERROR_STOP=1 -f auditlog.sql`, connected by `conninfo` (the
    /// test's `PG*` variables left out). A non-zero exit fails with what
    /// psql printed to standard error.
    static func install(conninfo: String) throws {
        guard let path else { throw InstallError(message: "the script is not built (make -C extension sql-edition)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", path]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PG") }
        let stderr = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        try process.run()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw InstallError(
                message: "psql exited with \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
        }
    }

    struct InstallError: Error, CustomStringConvertible {
        var message: String
        var description: String { "could not install the SQL edition: \(message)" }
    }
}

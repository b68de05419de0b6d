import Foundation
import Testing

/// The built `auditlogctl` executable, run as an operator would run it:
/// for what it prints, its exit code, and how it behaves when killed.
struct AuditlogCtlProcess {
    /// What a finished run printed and how it exited.
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String

        /// Standard error's lines, without the empty one after the last
        /// newline.
        var errorLines: [Substring] {
            stderr.split(separator: "\n")
        }
    }

    /// The executable: beside the test bundle (`swift build --build-tests`
    /// builds both into one folder), else in the package's `.build/debug`.
    static let executable: URL = {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("auditlogctl")
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/auditlogctl")
    }()

    private let process = Process()
    private let stdout = Pipe()
    private let stderr = Pipe()

    /// Starts `auditlogctl` with `arguments`, the test process's environment
    /// less its `PG*` and `AWS_*` variables, plus `environment`.
    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        var inherited = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("PG") && !$0.key.hasPrefix("AWS_")
        }
        inherited.merge(environment) { $1 }
        process.executableURL = Self.executable
        process.arguments = arguments
        process.environment = inherited
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
    }

    /// The process id, for signals.
    var pid: Int32 { process.processIdentifier }

    /// Waits for the process to exit and returns what it printed.
    func wait() -> Outcome {
        // Read both pipes to their end before waiting, so a chatty process
        // never blocks on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var errors = Data()
        DispatchQueue.global().async(group: group) { errors = stderr.fileHandleForReading.readDataToEndOfFile() }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
            stderr: String(decoding: errors, as: UTF8.self))
    }

    /// Runs `auditlogctl` with `arguments` to its end.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        try AuditlogCtlProcess(arguments, environment: environment).wait()
    }
}

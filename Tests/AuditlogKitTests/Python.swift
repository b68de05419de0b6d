import Foundation
import Testing

/// Python 3 scripts that the tests run: botocore and boto3 as independent
/// S3 clients, and small HTTP servers.
enum Python {
    /// Runs `script` with `input` on its standard input and returns its
    /// standard output; a non-zero exit fails with its standard error.
    static func run(_ script: String, input: String = "") throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PythonError(message: String(decoding: errors, as: UTF8.self))
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// A server that `script` runs until ``stop()``; the script prints the
    /// port it listens on as its first line, optionally followed by more
    /// words, which become ``details``.
    ///
    /// The server exits when its standard input closes, so it does not
    /// outlive a test run that crashed. (Signals are no way to stop it: it
    /// inherits the test runner's blocked signals.)
    final class Server {
        let port: Int
        let details: [String]
        private let process: Process
        private let stdin = Pipe()

        static let exitWithStandardInput = """
            import os, sys, threading
            threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()

            """

        init(_ script: String, arguments: [String] = []) throws {
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", Self.exitWithStandardInput + script] + arguments
            let stdout = Pipe()
            process.standardInput = stdin
            process.standardOutput = stdout
            process.standardError = FileHandle.nullDevice
            try process.run()
            var line = Data()
            while let byte = try stdout.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8)
            {
                line += byte
            }
            let words = String(decoding: line, as: UTF8.self).split(separator: " ").map(String.init)
            guard let port = words.first.flatMap({ Int($0) }) else {
                try? stdin.fileHandleForWriting.close()
                throw PythonError(message: "the server did not report its port")
            }
            self.port = port
            details = Array(words.dropFirst())
        }

        func stop() {
            try? stdin.fileHandleForWriting.close()
            process.waitUntilExit()
        }
    }
}

struct PythonError: Error, CustomStringConvertible {
    var message: String
    var description: String { "python3 failed: \(message)" }
}

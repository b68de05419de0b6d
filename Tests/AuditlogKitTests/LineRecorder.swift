import AuditlogKit
import Foundation
import Logging

/// Lines written by log handlers, kept for a test to read.
final class LineRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [String] = []

    /// The lines so far, in order.
    var lines: [String] {
        lock.withLock { recorded }
    }

    /// An output that records each line.
    var output: LogLineOutput {
        LogLineOutput { line in self.lock.withLock { self.recorded.append(line) } }
    }

    /// A logger writing text lines here, at `level` and above.
    func textLogger(label: String = "auditlogctl", level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { TextLogHandler(label: $0, output: self.output) }
        logger.logLevel = level
        return logger
    }
}

public import ArgumentParser
import AuditlogKit
import Logging

/// How `run` and `daemon` log: the format and the least severe level.
struct LoggingOptions: ParsableArguments {
    /// A log line format.
    enum Format: String, CaseIterable, ExpressibleByArgument {
        /// One readable line per record, `auditlogctl: …`.
        case text
        /// One JSON object per line.
        case json
    }

    @Option(
        help: ArgumentHelp(
            "How log records are written on standard error: 'text', one readable line each (auditlogctl: <message> key=value …), or 'json', one object per line with timestamp, level, label, message and metadata.",
            valueName: "format"
        )
    )
    var logFormat: Format = .text

    @Option(
        help: ArgumentHelp(
            "The least severe level logged.",
            valueName: "level"
        )
    )
    var logLevel: Logger.Level = .info

    /// Sets up the process's logging for these options and returns the
    /// command's logger. Call it once per process.
    func bootstrap() -> Logger {
        let format = logFormat
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                switch format {
                case .text: TextLogHandler(label: label)
                case .json: JSONLogHandler(label: label)
                }
            handler.logLevel = level
            return handler
        }
        return Logger(label: "auditlogctl")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

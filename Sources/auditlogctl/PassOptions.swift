import ArgumentParser
import AuditlogKit
import Foundation

/// The options of an export pass, shared by `run` and `daemon`.
struct PassOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Keep entries this long, as a PostgreSQL interval ('90 days', '12h'); older day partitions are dropped once every sink has exported them.",
            valueName: "interval"
        )
    )
    var retain = "90 days"

    @Option(help: ArgumentHelp("The most entries in one page, and so in one object.", valueName: "count"))
    var maxRows = 10_000

    @Option(
        name: .customLong("export-url"),
        help: ArgumentHelp(
            "Where on-demand export jobs go: file:///absolute/path or s3://bucket/prefix. Default: $AUDITLOG_EXPORT_URL.",
            discussion: "Without it, requested export jobs stay pending; that is not an error.",
            valueName: "url"
        )
    )
    var exportURL: String?

    @Option(
        help: ArgumentHelp(
            "How long the download link of a finished s3:// export stays valid: '30m', '24h', at most '168h' (7 days).",
            valueName: "duration"
        )
    )
    var linkExpiry = "24h"

    func validate() throws {
        guard let expiry = Self.seconds(linkExpiry), (1...SigV4.maximumExpiry).contains(expiry) else {
            throw ValidationError(
                "--link-expiry takes a duration from 1s to 168h (7 days), such as 30m or 24h, not '\(linkExpiry)'")
        }
    }

    /// A runner for these options, draining the named sinks (all when `nil`).
    func runner(sinks: [String]? = nil) -> PassRunner {
        let environment = ProcessInfo.processInfo.environment["AUDITLOG_EXPORT_URL"].flatMap { $0.isEmpty ? nil : $0 }
        return PassRunner(
            retain: retain, maxRows: maxRows, sinks: sinks, exportURL: exportURL ?? environment,
            linkExpiry: Self.seconds(linkExpiry) ?? 86_400)
    }

    private static func seconds(_ text: String) -> Int? {
        Duration(parsing: text).map { Int($0.components.seconds) }
    }
}

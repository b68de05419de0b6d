import ArgumentParser
import AuditlogKit

/// `auditlogctl status`: shows the extension's health and partitions.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show pending entries and partitions.",
        discussion: """
            Reads the views auditlog.health and auditlog.partitions. Times are \
            shown in UTC. With --json the output has sorted keys, ISO-8601 \
            times and sizes in bytes, for scripts and monitoring.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        try await reportingErrors {
            let report = try await StatusReport.fetch(from: connection.connect())
            print(json ? try report.renderJSON() : report.renderText())
        }
    }
}

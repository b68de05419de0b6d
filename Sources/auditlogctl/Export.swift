import ArgumentParser
import AuditlogKit

/// `auditlogctl export`: on-demand exports of a window of one stream.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Request, follow and cancel on-demand exports: one object and a download link.",
        discussion: """
            An export job is a window [from, to) of one stream, optionally \
            one tenant's entries only, exported as one ndjson.gz or CSV file \
            (spreadsheet-safe: cells that would start a formula get a \
            leading apostrophe). 'auditlogctl run --export-url <url>' (or \
            'daemon', or AUDITLOG_EXPORT_URL) does the exporting; 'export \
            status <id>' then shows the object and its download link. The \
            same can be done from psql with auditlog.request_export(), \
            cancel_export() and the view auditlog.export_status.
            """,
        subcommands: [Request.self, Status.self, Cancel.self]
    )

    /// `auditlogctl export request`.
    struct Request: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Request an export of [from, to) of a stream.",
            discussion: """
                The window is at most 92 days and ends no later than the \
                settled horizon (auditlog.settled_horizon()). Prints the \
                job's id.
                """
        )

        @OptionGroup var connection: ConnectionOptions

        @Option(help: ArgumentHelp("The stream to export.", valueName: "stream"))
        var stream = "audit"

        @Option(
            help: ArgumentHelp("The window's start, e.g. '2026-03-01' or '2026-03-01 00:00+00'.", valueName: "time"))
        var from: String

        @Option(help: ArgumentHelp("The window's end, no later than the settled horizon.", valueName: "time"))
        var to: String

        @Option(help: ArgumentHelp("Export only this tenant's entries. Default: every tenant's.", valueName: "id"))
        var tenant: String?

        @Option(help: ArgumentHelp("Who asks for the export, recorded with the job.", valueName: "name"))
        var requestedBy: String

        @Option(help: ArgumentHelp("ndjson.gz (gzip-compressed JSON lines) or csv.", valueName: "format"))
        var format = "ndjson.gz"

        func run() async throws {
            try await reportingErrors {
                let id = try await ExportJobStatus.request(
                    stream: stream, from: from, to: to, tenantID: tenant,
                    requestedBy: requestedBy, format: format, on: connection.connect())
                print("requested export job \(id); 'auditlogctl run --export-url <url>' exports it")
            }
        }
    }

    /// `auditlogctl export status`.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one export job in full, or the 20 most recent as a table.",
            discussion: "Times are in UTC. One job's download link is printed last, on a line of its own."
        )

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The job's id. Default: the most recent jobs.")
        var id: Int64?

        @Flag(help: "Print JSON: the job as an object, or the jobs as an array.")
        var json = false

        func run() async throws {
            try await reportingErrors {
                let connection = try await connection.connect()
                if let id {
                    let job = try await ExportJobStatus.fetch(id, from: connection)
                    print(json ? try job.renderJSON() : job.renderText())
                } else {
                    let jobs = try await ExportJobStatus.fetchRecent(from: connection)
                    print(json ? try ExportJobStatus.renderJSON(jobs) : ExportJobStatus.renderText(jobs))
                }
            }
        }
    }

    /// `auditlogctl export cancel`.
    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a pending or running export job.",
            discussion: "A worker on it stops at its next step; what it stored stays where it is."
        )

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The job's id.")
        var id: Int64

        func run() async throws {
            try await reportingErrors {
                let cancelled = try await ExportJobStatus.cancel(id, on: connection.connect())
                print(cancelled ? "cancelled export job \(id)" : "export job \(id) had ended already")
            }
        }
    }
}

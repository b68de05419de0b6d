import ArgumentParser
import AuditlogKit

/// `auditlogctl backfill`: exports a past window to a sink.
struct Backfill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start, follow and cancel backfills: a sink's export of a past window.",
        discussion: """
            A sink exports what is committed from the moment it is created or \
            enabled; a backfill exports a past window [from, to) on request, \
            under object keys of its own (its pages may overlap the sink's \
            own). 'auditlogctl run' does the uploading. The same can be done \
            from psql with auditlog.start_backfill(), backfill_next_page(), \
            backfill_ack() and cancel_backfill().
            """,
        subcommands: [Start.self, Status.self, Cancel.self]
    )

    /// `auditlogctl backfill start`.
    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a backfill of [from, to) for a sink.")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The sink's name.")
        var sink: String

        @Option(
            help: ArgumentHelp("The window's start, e.g. '2026-03-01' or '2026-03-01 00:00+00'.", valueName: "time"))
        var from: String

        @Option(help: ArgumentHelp("The window's end, no later than the settled horizon.", valueName: "time"))
        var to: String

        func run() async throws {
            try await reportingErrors {
                let id = try await BackfillStatus.start(sink: sink, from: from, to: to, on: connection.connect())
                print("started backfill \(id) for sink \(sink); 'auditlogctl run' exports it")
            }
        }
    }

    /// `auditlogctl backfill status`.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every backfill, newest first, with its progress.")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await reportingErrors {
                print(BackfillStatus.renderText(try await BackfillStatus.fetchAll(from: connection.connect())))
            }
        }
    }

    /// `auditlogctl backfill cancel`.
    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a running backfill.")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The backfill's id.")
        var id: Int64

        func run() async throws {
            try await reportingErrors {
                let cancelled = try await BackfillStatus.cancel(id, on: connection.connect())
                print(cancelled ? "cancelled backfill \(id)" : "backfill \(id) had ended already")
            }
        }
    }
}

import ArgumentParser
import AuditlogKit

/// `auditlogctl verify`: proves a sink's storage holds every acknowledged
/// page, unedited, chained and without a gap.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that a sink's storage holds every page it acknowledged, unedited, chained, without a gap.",
        discussion: """
            Reads the sink's acknowledged pages from auditlog.page in the \
            order they were acknowledged and, for each, fetches its object \
            from the sink's URL (one at a time) and checks that it is there, \
            that its uncompressed body has the SHA-256 the page recorded, \
            one line per entry, each entry of the page's stream, logged on \
            the page's dt= day, and in no other page. It checks the chain: \
            each page records the SHA-256 of the page acknowledged before \
            it, so a page missing from the database or changed breaks it. \
            The chain starts again after the sink was re-anchored (restored \
            from a dump, or its cursor tick lost): that is a note when it \
            matches the re-anchor the database records, a warning when the \
            database no longer records one there (it keeps only the latest).
            It then lists each <stream>/dt= folder and reports objects named \
            for the sink that no acknowledged page names: the page in flight \
            (a note), or others (a warning), such as pages exported again \
            after a failover or a restore. Backfill objects \
            (<sink>-backfill-<id>-<page>) are counted, not checked.
            Prints, per UTC day, the pages and entries the database records \
            against those found in storage, the totals, and the findings. \
            Exit code 0 when there is no error nor warning; otherwise 1, \
            with one line per problem on standard error.
            --from and --to verify only the pages of those UTC days; the \
            chain is still checked against each page's predecessor in the \
            database. Storage is opened as 'auditlogctl run' opens it (for \
            s3://, the AWS_* environment variables).
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The sink to verify.")
    var sink: String

    @Option(help: ArgumentHelp("Verify only pages of this UTC day and later.", valueName: "YYYY-MM-DD"))
    var from: String?

    @Option(help: ArgumentHelp("Verify only pages of this UTC day and earlier.", valueName: "YYYY-MM-DD"))
    var to: String?

    @Flag(help: "Print the report as JSON, with sorted keys.")
    var json = false

    func validate() throws {
        for (name, value) in [("--from", from), ("--to", to)] {
            if let value, UTCDay(value) == nil {
                throw ValidationError("\(name) must be a date as YYYY-MM-DD, not '\(value)'")
            }
        }
        if let from = from.flatMap(UTCDay.init), let to = to.flatMap(UTCDay.init), to < from {
            throw ValidationError("--to \(to) is before --from \(from)")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let verifier = SinkVerifier(sink: sink, from: from.flatMap(UTCDay.init), to: to.flatMap(UTCDay.init))
            let report = try await verifier.verify(on: connection.connect())
            print(json ? try report.renderJSON() : report.renderText())
            for problem in report.problems {
                printError("\(problem)")
            }
            if !report.succeeded {
                throw ExitCode.failure
            }
        }
    }
}

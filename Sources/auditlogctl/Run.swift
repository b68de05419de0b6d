import ArgumentParser
import AuditlogKit
import Logging

/// `auditlogctl run`: one export pass, for schedulers.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one export pass: maintenance, then upload every enabled sink's new entries.",
        discussion: """
            For cron, systemd timers and Kubernetes CronJobs. The pass calls \
            auditlog.tick(), timeout_pending(), ensure_partitions() and \
            purge(), then drains each enabled sink: it takes the sink's next \
            page (auditlog.next_page), uploads it gzip-compressed under the \
            page's object key below the sink's URL, and only then \
            acknowledges it (auditlog.ack), until no page is left. A page \
            that was not acknowledged, because a pass died or failed, is \
            uploaded again under the same key by the next pass.

            With --export-url (or AUDITLOG_EXPORT_URL), the pass then works \
            through the export jobs requested with 'auditlogctl export \
            request': it claims each under a lease, stores its pages as \
            staging objects under exports/job-<id>/parts/, concatenates \
            them into exports/job-<id>/<stream>_<from>_<to>[_<tenant>].<ext> \
            and records the object, its size, SHA-256 and download link: a \
            presigned link for s3://, valid for --link-expiry (none with \
            temporary credentials, whose link would carry the session \
            token). A job that fails is retried by a later pass, up to its \
            attempt limit. Without an export URL, jobs stay pending.

            Several passes may run at once, from several hosts: each sink is \
            drained by one of them at a time, and the others skip it.

            Prints one line of maintenance counts, then one line per sink: \
            'sink <name>: <pages> pages, <entries> entries, <bytes> bytes', \
            then one per backfill and export job. \
            A failing step or sink does not stop the others; each failure \
            is logged on standard error and the exit code is 1. Notices \
            and warnings from the server are logged too, with their \
            SQLSTATE.

            Storage: file:///absolute/path writes files atomically \
            (temporary file, fsync, rename). s3://bucket/prefix uploads with \
            AWS Signature V4, credentials from AWS_ACCESS_KEY_ID, \
            AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, region from \
            AWS_REGION, and AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for \
            S3-compatible stores (MinIO, R2); failed requests are retried \
            with backoff. Credentials are never stored in the database nor \
            printed. gs:// sinks are not supported yet.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var pass: PassOptions

    @OptionGroup var logging: LoggingOptions

    @Option(
        name: .customLong("sink"),
        help: ArgumentHelp("Drain only this sink; repeat for several. Default: every enabled sink.", valueName: "name")
    )
    var sinks: [String] = []

    func run() async throws {
        let logger = logging.bootstrap()
        try await reportingErrors(to: logger) {
            let runner = pass.runner(sinks: sinks.isEmpty ? nil : sinks)
            let summary = try await runner.run(on: connection.connect(logger: logger))
            print(summary.renderText())
            for failure in summary.failures {
                logger.error("\(failure)")
            }
            if !summary.succeeded {
                throw ExitCode.failure
            }
        }
    }
}

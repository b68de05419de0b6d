import ArgumentParser
import AuditlogKit

/// `auditlogctl daemon`: export passes on an interval.
struct Daemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run export passes on an interval until stopped.",
        discussion: """
            Each pass is what 'auditlogctl run' does. Passes that changed \
            something are logged at level info (a record for the pass, one \
            per sink that exported), failures at level error, and the next \
            pass runs on time; a lost connection is opened again. Start and \
            stop are logged too.

            With --listen, an HTTP server answers GET /metrics (Prometheus \
            text format: pages, entries and bytes exported per sink, failed \
            steps, passes, sink lag, pending entries, the last pass's time \
            and duration, auditlog_up), GET /healthz (200 'ok' when the last \
            pass succeeded less than three intervals and a minute ago, else \
            503 and the reason) and GET /status (what 'auditlogctl status \
            --json' prints). They answer from what the daemon read after its \
            last pass, so a scrape never queries the database.

            SIGTERM or SIGINT stops the daemon cleanly: the pass in progress \
            finishes the page it is on and takes no new one, nothing is \
            acknowledged that was not stored, the server stops, and the exit \
            code is 0. Several daemons may run against one database: each \
            sink is drained by one of them at a time.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp("The pause between passes: '500ms', '30s', '5m', '1h'.", valueName: "duration"))
    var interval = "30s"

    @Option(
        help: ArgumentHelp(
            "Serve /metrics, /healthz and /status over HTTP on this address, such as 127.0.0.1:9187 or [::1]:9187. Default: no server.",
            valueName: "host:port"
        )
    )
    var listen: String?

    @OptionGroup var pass: PassOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard Duration(parsing: interval) != nil else {
            throw ValidationError(
                "--interval takes a positive duration such as 500ms, 30s, 5m or 1h, not '\(interval)'")
        }
        if let listen, ListenAddress(parsing: listen) == nil {
            throw ValidationError("--listen takes host:port, such as 127.0.0.1:9187 or [::1]:9187, not '\(listen)'")
        }
    }

    func run() async throws {
        let logger = logging.bootstrap()
        let connection = connection
        let service = DaemonService(
            loop: PassLoop(
                runner: pass.runner(),
                interval: Duration(parsing: interval) ?? .seconds(30),
                connect: { try await connection.connect(logger: logger) }
            ),
            listen: listen.flatMap(ListenAddress.init(parsing:)),
            logger: logger
        )
        try await reportingErrors(to: logger) {
            try await service.run(handlingTerminationSignals: true)
        }
    }
}

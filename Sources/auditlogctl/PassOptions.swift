import ArgumentParser
import AuditlogKit

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

    /// A runner for these options, draining the named sinks (all when `nil`).
    func runner(sinks: [String]? = nil) -> ExportRunner {
        ExportRunner(retain: retain, maxRows: maxRows, sinks: sinks)
    }
}

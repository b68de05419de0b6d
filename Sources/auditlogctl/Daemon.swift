import ArgumentParser
import AuditlogKit
import Dispatch
import Foundation

/// `auditlogctl daemon`: export passes on an interval.
struct Daemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run export passes on an interval until stopped.",
        discussion: """
            Each pass is what 'auditlogctl run' does, and is reported as \
            'run' reports it unless it changed nothing. A failing pass is \
            reported on standard error and the next runs on time; a lost \
            connection is opened again. SIGTERM or SIGINT stops the daemon \
            cleanly: the pass in progress finishes the page it is on and \
            takes no new one, nothing is acknowledged that was not stored, \
            and the exit code is 0. Several daemons may run against one \
            database: each sink is drained by one of them at a time.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp("The pause between passes: '500ms', '30s', '5m', '1h'.", valueName: "duration"))
    var interval = "30s"

    @OptionGroup var pass: PassOptions

    func validate() throws {
        guard Duration(parsing: interval) != nil else {
            throw ValidationError("--interval takes a positive duration such as 500ms, 30s, 5m or 1h, not '\(interval)'")
        }
    }

    func run() async throws {
        let connection = connection
        let daemon = ExportDaemon(
            runner: pass.runner(),
            interval: Duration(parsing: interval) ?? .seconds(30),
            connect: { try connection.connect() }
        )
        let passes = Task {
            await daemon.run { result in
                switch result {
                case .success(let summary) where summary.isIdle:
                    break
                case .success(let summary):
                    print(summary.renderText())
                    summary.failures.forEach { printError("\($0)") }
                case .failure(let error):
                    printError("pass failed: \(error)")
                }
            }
        }
        let stops = [SIGTERM, SIGINT].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { passes.cancel() }
            source.resume()
            return source
        }
        _ = await passes.value
        stops.forEach { $0.cancel() }
    }
}

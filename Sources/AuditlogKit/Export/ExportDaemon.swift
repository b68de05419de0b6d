/// Export passes on an interval until stopped: what `auditlogctl daemon`
/// does.
///
/// Each pass is an ``ExportRunner`` pass. A pass that fails is reported and
/// the next one runs on time; a lost connection is opened again for the next
/// pass. Stopping (cancelling the task) lets the pass in progress finish the
/// page it is on, takes no new page, and ends the loop: nothing is
/// acknowledged that was not stored.
public struct ExportDaemon: Sendable {
    /// What each pass does.
    public var runner: ExportRunner
    /// The time from the end of one pass to the start of the next.
    public var interval: Duration
    /// Opens a connection for the passes.
    public var connect: @Sendable () throws -> PostgresConnection

    /// Creates a daemon.
    public init(runner: ExportRunner, interval: Duration, connect: @escaping @Sendable () throws -> PostgresConnection) {
        self.runner = runner
        self.interval = interval
        self.connect = connect
    }

    /// Runs passes until the task is cancelled, reporting each pass's
    /// summary, or the error that ended it, as it ends.
    ///
    /// - Returns: How many passes ran.
    @discardableResult
    public func run(report: (Result<ExportSummary, any Error>) -> Void) async -> Int {
        var connection: PostgresConnection?
        var passes = 0
        while !Task.isCancelled {
            do {
                let open = try connection ?? connect()
                connection = open
                report(.success(try await runner.run(on: open)))
            } catch {
                connection = nil
                report(.failure(error))
            }
            passes += 1
            do {
                try await Task.sleep(for: interval)
            } catch {
                break
            }
        }
        return passes
    }
}

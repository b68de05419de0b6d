public import Foundation

/// Export passes on an interval until stopped: what `auditlogctl daemon`
/// does.
///
/// Each pass is a ``PassRunner`` pass. A pass that fails is reported and
/// the next one runs on time; a lost connection is opened again for the next
/// pass. Stopping (cancelling the task) lets the pass in progress finish the
/// page it is on, takes no new page, and ends the loop: nothing is
/// acknowledged that was not stored.
public struct PassLoop: Sendable {
    /// One pass as the loop saw it: when it started, how long it took and
    /// how it ended.
    public struct Pass: Sendable {
        /// When the pass started.
        public var startedAt: Date
        /// How long it ran, connecting included.
        public var duration: Duration
        /// Its summary, or the error that ended it: the connection could not
        /// be opened or was lost.
        public var result: Result<PassSummary, any Error>

        /// Creates a pass.
        public init(startedAt: Date, duration: Duration, result: Result<PassSummary, any Error>) {
            self.startedAt = startedAt
            self.duration = duration
            self.result = result
        }
    }

    /// What each pass does.
    public var runner: PassRunner
    /// The time from the end of one pass to the start of the next.
    public var interval: Duration
    /// Opens a connection for the passes.
    public var connect: @Sendable () async throws -> PostgresConnection

    /// Creates a pass loop.
    public init(
        runner: PassRunner, interval: Duration, connect: @escaping @Sendable () async throws -> PostgresConnection
    ) {
        self.runner = runner
        self.interval = interval
        self.connect = connect
    }

    /// Runs passes until the task is cancelled, reporting each pass's
    /// summary, or the error that ended it, as it ends.
    ///
    /// - Returns: How many passes ran.
    @discardableResult
    public func run(report: (Result<PassSummary, any Error>) -> Void) async -> Int {
        await run(observe: { pass in report(pass.result) })
    }

    /// Runs passes until the task is cancelled, handing each pass to
    /// `observe` as it ends; the next pass waits for `observe` to return.
    ///
    /// - Returns: How many passes ran.
    @discardableResult
    public func run(observe: (Pass) async -> Void) async -> Int {
        var connection: PostgresConnection?
        var passes = 0
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let startedAt = Date()
            let start = clock.now
            let result: Result<PassSummary, any Error>
            do {
                let open = try await self.connection(reusing: connection)
                connection = open
                result = .success(try await runner.run(on: open))
            } catch {
                connection = nil
                result = .failure(error)
            }
            await observe(Pass(startedAt: startedAt, duration: clock.now - start, result: result))
            passes += 1
            do {
                try await Task.sleep(for: interval)
            } catch {
                break
            }
        }
        return passes
    }

    /// `connection` if there is one, else a new one from ``connect``.
    func connection(reusing connection: PostgresConnection?) async throws -> PostgresConnection {
        if let connection { return connection }
        return try await connect()
    }
}

import Foundation
public import Logging

/// `auditlogctl daemon`: an ``ExportDaemon``'s passes, logged, kept in a
/// ``DaemonSnapshotStore``, and served by a ``StatusServer`` when an address
/// is given.
///
/// After each pass the service reads the ``StatusReport`` on a connection of
/// its own (the status views are cheap) and stores it with the pass, so
/// that the endpoints never query the database. The pass loop and the
/// server run in one task group: cancelling the task stops both, the pass
/// loop as ``ExportDaemon`` describes, and a server that fails stops the
/// pass loop.
public struct DaemonService: Sendable {
    /// The pass loop.
    public var daemon: ExportDaemon
    /// Where to serve the endpoints; `nil` for no server.
    public var listen: ListenAddress?
    /// Where the snapshot after each pass goes.
    public var snapshots: DaemonSnapshotStore
    /// Where passes, failures, start and stop are logged.
    public var logger: Logger

    /// Creates a service.
    public init(
        daemon: ExportDaemon,
        listen: ListenAddress?,
        snapshots: DaemonSnapshotStore = DaemonSnapshotStore(),
        logger: Logger
    ) {
        self.daemon = daemon
        self.listen = listen
        self.snapshots = snapshots
        self.logger = logger
    }

    /// Runs passes, and the server if there is one, until the task is
    /// cancelled.
    ///
    /// - Parameter onListening: Called with the server's port once it
    ///   listens.
    /// - Returns: How many passes ran.
    /// - Throws: When the server cannot listen on ``listen``.
    @discardableResult
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> Int {
        logger.info("daemon started", metadata: [
            "interval": "\(Self.seconds(daemon.interval))",
            "listen": "\(listen?.description ?? "off")",
        ])
        let passes = try await withThrowingTaskGroup(of: Int?.self) { group in
            if let listen {
                let server = StatusServer(address: listen, snapshots: snapshots, interval: daemon.interval, logger: logger)
                group.addTask {
                    do {
                        try await server.run(onListening: onListening)
                    } catch where Task.isCancelled {
                        // Stopping is not a failure, however the server reports it.
                    }
                    return nil
                }
            }
            group.addTask { await runPasses() }
            // Either ends only when stopped, or the server when it fails:
            // both end together.
            var passes = try await group.next() ?? nil
            group.cancelAll()
            while let result = try await group.next() {
                passes = passes ?? result
            }
            return passes ?? 0
        }
        logger.info("daemon stopped", metadata: ["passes": "\(passes)"])
        return passes
    }

    private func runPasses() async -> Int {
        var statusConnection: PostgresConnection?
        return await daemon.run(observe: { pass in
            log(pass)
            var status: Result<StatusReport, any Error>?
            if listen != nil {
                status = Result {
                    let connection = try statusConnection ?? daemon.connect()
                    statusConnection = connection
                    return try StatusReport.fetch(from: connection)
                }
                if case .failure(let error) = status {
                    statusConnection = nil
                    logger.warning("could not read the status after the pass: \(error)", metadata: ["step": "status"])
                }
            }
            await snapshots.record(pass, status: status)
        })
    }

    private func log(_ pass: ExportDaemon.Pass) {
        switch pass.result {
        case .success(let summary) where summary.isIdle:
            logger.debug("pass: nothing to do", metadata: ["duration": "\(Self.seconds(pass.duration))"])
        case .success(let summary):
            summary.log(to: logger, metadata: ["duration": "\(Self.seconds(pass.duration))"])
        case .failure(let error):
            logger.error("pass failed: \(error)", metadata: ["step": "pass"])
        }
    }

    /// `1.250s`: a duration for the log.
    private static func seconds(_ duration: Duration) -> String {
        String(format: "%.3fs", duration.seconds)
    }
}

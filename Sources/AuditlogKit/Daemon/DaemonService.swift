import Foundation
public import Logging
import ServiceLifecycle

/// `auditlogctl daemon`: a ``PassLoop``'s passes, logged, kept in a
/// ``DaemonSnapshotStore``, and served by a ``StatusServer`` when an address
/// is given.
///
/// After each pass the service reads the ``StatusReport`` on a connection of
/// its own (the status views are cheap) and stores it with the pass, so
/// that the endpoints never query the database. The pass loop and the
/// server run as services of one service group (swift-service-lifecycle,
/// which Hummingbird builds on): a graceful shutdown stops the pass loop as
/// ``PassLoop`` describes, then the server; a server that fails stops
/// the pass loop.
public struct DaemonService: Sendable {
    /// The pass loop.
    public var loop: PassLoop
    /// Where to serve the endpoints; `nil` for no server.
    public var listen: ListenAddress?
    /// Where the snapshot after each pass goes.
    public var snapshots: DaemonSnapshotStore
    /// Where passes, failures, start and stop are logged.
    public var logger: Logger

    /// Creates a service.
    public init(
        loop: PassLoop,
        listen: ListenAddress?,
        snapshots: DaemonSnapshotStore = DaemonSnapshotStore(),
        logger: Logger
    ) {
        self.loop = loop
        self.listen = listen
        self.snapshots = snapshots
        self.logger = logger
    }

    /// Runs passes, and the server if there is one, until `stop` returns,
    /// the process gets SIGTERM or SIGINT when `handlingTerminationSignals`,
    /// or the task is cancelled.
    ///
    /// The first two stop the pass loop as cancelling does, then the server
    /// (which answers until then); cancelling stops both at once, and
    /// Hummingbird may log that as an error.
    ///
    /// - Parameters:
    ///   - handlingTerminationSignals: Whether SIGTERM and SIGINT stop the
    ///     service; only one service in a process should handle them.
    ///   - stop: Returns when the service should stop; it must return when
    ///     its task is cancelled.
    ///   - onListening: Called with the server's port once it listens.
    /// - Returns: How many passes ran.
    /// - Throws: When the server cannot listen on ``listen``.
    @discardableResult
    public func run(
        handlingTerminationSignals: Bool = false,
        stop: (@Sendable () async -> Void)? = nil,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> Int {
        logger.info(
            "daemon started",
            metadata: [
                "interval": "\(Self.seconds(loop.interval))",
                "listen": "\(listen?.description ?? "off")",
            ])
        let passCount = PassCount()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let listen {
            let server = StatusServer(address: listen, snapshots: snapshots, interval: loop.interval, logger: logger)
            services.append(.init(service: server.service(onListening: onListening), serviceName: "status server"))
        }
        // After the server, so that a graceful shutdown, which goes in
        // reverse order, stops the passes first and the server answers
        // until the last one has ended.
        services.append(
            .init(
                service: ClosureService {
                    let passes = await cancelWhenGracefulShutdown { await runPasses() }
                    await passCount.set(passes)
                }, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "export passes"))
        if let stop {
            services.append(
                .init(
                    service: ClosureService {
                        await cancelWhenGracefulShutdown { await stop() }
                    }, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "stop"))
        }
        let configuration = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: handlingTerminationSignals ? [.sigterm, .sigint] : [],
            logger: logger
        )
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch _ where Task.isCancelled {
            // Stopping by cancellation is not a failure, whatever a service
            // threw on its way out.
        }
        let passes = await passCount.value
        logger.info("daemon stopped", metadata: ["passes": "\(passes)"])
        return passes
    }

    private func runPasses() async -> Int {
        var statusConnection: PostgresConnection?
        return await loop.run(observe: { pass in
            log(pass)
            var status: Result<StatusReport, any Error>?
            // After a pass that could not reach the database, trying again
            // at once would only repeat its error.
            if listen != nil, case .success = pass.result {
                do {
                    let connection = try await loop.connection(reusing: statusConnection)
                    statusConnection = connection
                    status = .success(try await StatusReport.fetch(from: connection))
                } catch {
                    statusConnection = nil
                    status = .failure(error)
                    logger.warning("could not read the status after the pass: \(error)", metadata: ["step": "status"])
                }
            }
            await snapshots.record(pass, status: status)
        })
    }

    private func log(_ pass: PassLoop.Pass) {
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

/// How many passes the pass loop ran, once it has ended.
private actor PassCount {
    private(set) var value = 0

    func set(_ count: Int) {
        value = count
    }
}

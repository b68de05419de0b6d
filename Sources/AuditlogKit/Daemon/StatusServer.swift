import Foundation
import Hummingbird
public import Logging
import ServiceLifecycle

/// The daemon's HTTP endpoints, answered from a ``DaemonSnapshotStore`` so
/// that no request queries the database:
///
/// - `GET /metrics`: the snapshot in the Prometheus text format
///   (``MetricsRenderer``).
/// - `GET /healthz`: `200 ok`, or `503` with the reason on one line
///   (``DaemonSnapshot/health(at:interval:)``).
/// - `GET /status`: the status report read after the last pass, as
///   `auditlogctl status --json` prints it; `503` when there is none.
public struct StatusServer: Sendable {
    /// Where to listen.
    public var address: ListenAddress
    /// Where the daemon keeps its latest snapshot.
    public var snapshots: DaemonSnapshotStore
    /// The daemon's interval between passes, for the health check.
    public var interval: Duration
    /// Where the server logs.
    public var logger: Logger

    /// Creates a server.
    public init(address: ListenAddress, snapshots: DaemonSnapshotStore, interval: Duration, logger: Logger) {
        self.address = address
        self.snapshots = snapshots
        self.interval = interval
        self.logger = logger
    }

    /// Serves until the task is cancelled.
    ///
    /// - Parameter onListening: Called with the port once the server is
    ///   listening, the one the system chose when ``address`` has port 0.
    /// - Throws: When the address cannot be bound.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await service(onListening: onListening).run()
    }

    /// The server as a service, which a service group can shut down
    /// gracefully: stopping by cancellation makes Hummingbird log an error.
    func service(onListening: @escaping @Sendable (Int) async -> Void) -> some Service {
        let router = Router()
        let snapshots = snapshots
        let interval = interval
        router.get("metrics") { _, _ in
            Self.response(
                .ok, MetricsRenderer.render(await snapshots.snapshot), contentType: MetricsRenderer.contentType)
        }
        router.get("healthz") { _, _ in
            switch await snapshots.snapshot.health(at: Date(), interval: interval) {
            case .healthy:
                Self.response(.ok, "ok\n")
            case .unhealthy(let reason):
                Self.response(.serviceUnavailable, reason + "\n")
            }
        }
        router.get("status") { _, _ in
            let snapshot = await snapshots.snapshot
            guard let status = snapshot.status else {
                let reason =
                    if snapshot.lastPass != nil, let statusError = snapshot.statusError {
                        "the status could not be read after the last pass: \(statusError)"
                    } else if let lastPass = snapshot.lastPass {
                        "database unreachable: \(lastPass.failure ?? "unknown error")"
                    } else {
                        "no pass has run yet"
                    }
                return Self.response(.serviceUnavailable, reason + "\n")
            }
            return Self.response(.ok, try status.renderJSON() + "\n", contentType: "application/json")
        }
        let address = address
        let application = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? address.port) },
            logger: logger
        )
        return ClosureService {
            do {
                try await application.run()
            } catch let error where !Task.isCancelled {
                throw Failure(address: address, reason: "\(error)")
            }
        }
    }

    /// The server could not listen, or stopped serving.
    public struct Failure: Error, CustomStringConvertible {
        /// The address it was to listen on.
        public var address: ListenAddress
        /// NIO's description of the error.
        public var reason: String

        public var description: String {
            "the HTTP server on \(address) failed: \(reason)"
        }
    }

    private static func response(
        _ status: HTTPResponse.Status,
        _ body: String,
        contentType: String = "text/plain; charset=utf-8"
    ) -> Response {
        Response(
            status: status,
            headers: [.contentType: contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body))
        )
    }
}

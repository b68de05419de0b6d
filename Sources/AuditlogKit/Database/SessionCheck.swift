import Foundation

/// Whether a connection reaches one server session, as the export needs: it
/// takes session-level advisory locks (one exporter per sink) and sets
/// session settings, which a pooler in transaction mode (PgBouncer, Supavisor,
/// Neon's `-pooler` hosts) would hand to whichever server session is free.
///
/// A pooler is invisible to the client, so this is a probe, not a proof: a
/// setting made on the connection must still be there, and the server process
/// the same, a few statements later. A pooler that happens to keep the same
/// server session for all of them (an idle pool of one) passes.
public enum SessionCheck {
    /// What one statement of the probe saw.
    public struct Sample: Equatable, Sendable {
        /// The server process that ran the statement.
        public var pid: String
        /// The probe's setting as that server session had it, if at all.
        public var token: String?

        public init(pid: String, token: String?) {
            self.pid = pid
            self.token = token
        }
    }

    /// Probes the connection and throws ``AuditlogError/notOneSession(_:)``
    /// when its statements reached more than one server session.
    public static func require(on connection: PostgresConnection) async throws {
        let token = UUID().uuidString
        var samples: [Sample] = []
        let first = try await connection.query(
            "SELECT pg_backend_pid()::text AS pid, set_config('auditlog.session_check', $1, false) AS token",
            [token]
        )
        for row in first.rows {
            samples.append(
                Sample(pid: try row.decode(String.self, "pid"), token: try row.decode(String?.self, "token")))
        }
        for _ in 0..<3 {
            let result = try await connection.query(
                "SELECT pg_backend_pid()::text AS pid, current_setting('auditlog.session_check', true) AS token"
            )
            for row in result.rows {
                samples.append(
                    Sample(pid: try row.decode(String.self, "pid"), token: try row.decode(String?.self, "token")))
            }
        }
        if let problem = verdict(samples, token: token) {
            throw AuditlogError.notOneSession(problem)
        }
    }

    /// What is wrong with the probe's samples, or `nil` when they all came
    /// from one server session that kept the probe's setting.
    public static func verdict(_ samples: [Sample], token: String) -> String? {
        let processes = Set(samples.map(\.pid)).count
        if processes > 1 {
            return "\(samples.count) statements in a row reached \(processes) different server processes"
        }
        if samples.contains(where: { $0.token != token }) {
            return "a session setting made on it was gone by a later statement"
        }
        return nil
    }
}

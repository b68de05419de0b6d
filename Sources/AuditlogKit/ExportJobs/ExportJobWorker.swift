import Foundation

/// Works through on-demand export jobs (`auditlog.request_export`): the part
/// of an export pass that turns each claimable job into one object and a
/// download link.
///
/// For each job it claims (`auditlog.claim_export`, one at a time until none
/// is left) it takes the job's pages in order, stores each as a staging
/// object `exports/job-<id>/parts/<part>-<page_id>.<ext>` and only then
/// acknowledges it, extending its lease between pages. After the last page
/// it concatenates the staged parts into the final object
/// `exports/job-<id>/<stream>_<from>_<to>[_<tenant>].<ext>` (gzip members
/// and CSV chunks both concatenate into one valid file), finishes the job
/// with the object's URL, size, SHA-256 and download link, and deletes the
/// staging objects. The link is presigned for `s3://` (unless the
/// credentials are temporary: such a link would hold the session token);
/// otherwise it is the object's URL.
///
/// Every step can be redone: a worker taking a job over after a crash is
/// handed the pinned page again, stores it again under the same key, and
/// composes the final object from scratch. A worker whose lease was taken
/// over or whose job was cancelled (``PostgresError/Code/lockNotAvailable``
/// from any fenced call) stops working on the job and leaves it alone; any
/// other error is reported with `auditlog.fail_export`, which retries the
/// job later up to its attempt limit.
public struct ExportJobWorker: Sendable {
    /// Where finished exports go: `file:///absolute/path` or
    /// `s3://bucket/prefix`.
    public var url: String
    /// The most entries in one page, and so in one staged part.
    public var maxRows: Int
    /// How long a claim or heartbeat holds a job, as a PostgreSQL interval.
    public var lease: String
    /// How long a download link stays valid, in seconds (at most 7 days).
    public var linkExpiry: Int
    /// The name the worker claims jobs under: `<hostname>:<pid>`.
    public var name: String
    /// Opens the storage for ``url``.
    public var openStorage: @Sendable (String) throws -> any ObjectStorage

    /// Creates a worker.
    public init(
        url: String,
        maxRows: Int = 10_000,
        lease: String = "5 minutes",
        linkExpiry: Int = 86_400,
        name: String = Self.defaultName,
        openStorage: @escaping @Sendable (String) throws -> any ObjectStorage = StorageURL.storage(for:)
    ) {
        self.url = url
        self.maxRows = maxRows
        self.lease = lease
        self.linkExpiry = linkExpiry
        self.name = name
        self.openStorage = openStorage
    }

    /// `<hostname>:<pid>`.
    public static var defaultName: String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Claims and exports jobs until none is claimable, one fails, or the
    /// task is cancelled (a daemon told to stop: the job in hand is left to
    /// its lease and taken over later).
    ///
    /// - Parameter failures: Receives one failure per job that failed, and
    ///   one if the storage cannot be opened (then no job is claimed).
    /// - Throws: ``PostgresError`` of kind ``PostgresError/Kind/connection``
    ///   when the connection is lost.
    public func run(
        on connection: PostgresConnection,
        failures: inout [PassSummary.Failure]
    ) async throws -> [PassSummary.JobResult] {
        let storage: any ObjectStorage
        do {
            storage = try openStorage(url)
        } catch {
            failures.append(.init(step: "export jobs", message: "\(error)"))
            return []
        }
        var results: [PassSummary.JobResult] = []
        while !Task.isCancelled {
            let claimed: Claim?
            do {
                claimed = try await Claim.next(worker: name, lease: lease, on: connection)
            } catch let error as PostgresError where error.kind != .connection {
                failures.append(.init(step: "export jobs", message: "\(error)"))
                break
            }
            guard let claim = claimed else { break }
            let result = try await export(claim, to: storage, on: connection, failures: &failures)
            results.append(result)
            // A failed job is pending again, and the oldest: claimed again
            // now, it would use up its attempts in one pass. It waits for the
            // next pass, and so do the jobs behind it.
            if case .failed = result.outcome { break }
        }
        return results
    }

    /// Exports one claimed job: stores its pages, assembles them into the
    /// final object and finishes the job, or reports it failed.
    private func export(
        _ claim: Claim,
        to storage: any ObjectStorage,
        on connection: PostgresConnection,
        failures: inout [PassSummary.Failure]
    ) async throws -> PassSummary.JobResult {
        var result = PassSummary.JobResult(id: claim.id, outcome: .finished)
        do {
            guard try await storePages(of: claim, to: storage, on: connection, result: &result) else {
                result.outcome = .interrupted
                return result
            }
            let parts = try await storedParts(of: claim, on: connection)
            let object = try await storage.concatenate(parts, into: claim.objectKey) {
                try await heartbeat(claim, on: connection)
            }
            try await finish(claim, object: object, in: storage, on: connection)
            result.bytes = object.bytes
            // Only now that the job is done is nobody else using the parts.
            do {
                for part in parts where part != claim.objectKey {
                    try await storage.delete(key: part)
                }
            } catch {
                failures.append(
                    .init(
                        step: "export job \(claim.id)",
                        message: "finished, but its staging objects remain: \(error)"))
            }
        } catch let error as PostgresError where error.kind == .connection {
            throw error
        } catch let error as PostgresError where error.code == .lockNotAvailable {
            result.outcome = .abandoned
        } catch {
            result.outcome = try await fail(claim, error, on: connection, failures: &failures)
        }
        return result
    }

    /// Stores the job's pages in order, acknowledging each once stored and
    /// extending the lease after it, up to the final page.
    ///
    /// - Returns: `false` when the task was cancelled first.
    private func storePages(
        of claim: Claim,
        to storage: any ObjectStorage,
        on connection: PostgresConnection,
        result: inout PassSummary.JobResult
    ) async throws -> Bool {
        while !Task.isCancelled {
            let page = try await connection.query(
                """
                SELECT page_id, part_number, rows, final, body, object_key
                FROM auditlog.export_next_page($1::int8, $2::uuid, $3::int4)
                """, claim.fence + [String(maxRows)]
            ).singleRow(of: "auditlog.export_next_page")
            let pageID = try page.decode(String.self, "page_id")
            let part = try page.decode(Int.self, "part_number")
            let rows = try page.decode(Int.self, "rows")
            let body = Array(try page.decode(String.self, "body").utf8)
            // A page past the last entries (the job was taken over after
            // its last page was acknowledged) adds nothing to the object.
            if Self.isStored(part: part, rows: rows) {
                let object = claim.format == "csv" ? body : try Gzip.compress(body)
                try await storage.put(key: try page.decode(String.self, "object_key"), data: object)
                result.bytes += object.count
            }
            try await connection.query(
                "SELECT auditlog.ack_export_page($1::int8, $2::uuid, $3::uuid)",
                claim.fence + [pageID])
            result.parts += 1
            result.rows += rows
            try await heartbeat(claim, on: connection)
            if try page.decode(Bool.self, "final") { return true }
        }
        return false
    }

    /// The staging keys of the job's acknowledged parts that hold
    /// something, in part order: what the final object is made of.
    private func storedParts(of claim: Claim, on connection: PostgresConnection) async throws -> [String] {
        try await connection.query(
            """
            SELECT part_number, object_key, rows FROM auditlog.page
            WHERE job_id = $1::int8 AND acked_at IS NOT NULL ORDER BY part_number
            """, [String(claim.id)]
        ).rows.compactMap { row -> String? in
            let part = try row.decode(Int.self, "part_number")
            guard Self.isStored(part: part, rows: try row.decode(Int.self, "rows")) else { return nil }
            return try row.decode(String.self, "object_key")
        }
    }

    /// Marks the job done with the final object's URL, size, SHA-256 and
    /// download link.
    private func finish(
        _ claim: Claim,
        object: ObjectDigest,
        in storage: any ObjectStorage,
        on connection: PostgresConnection
    ) async throws {
        let objectURL = (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/" + claim.objectKey
        let now = Date()
        let link = try storage.downloadLink(key: claim.objectKey, expires: linkExpiry, date: now)
        let expiresAt = link.map { _ in now.addingTimeInterval(TimeInterval(linkExpiry)) }
        try await connection.query(
            "SELECT auditlog.finish_export($1::int8, $2::uuid, $3, $4::int8, $5, $6, $7::timestamptz)",
            claim.fence + [
                objectURL, String(object.bytes), object.sha256, link ?? objectURL,
                expiresAt.map { $0.formatted(.iso8601) },
            ])
    }

    /// Reports the job failed with `auditlog.fail_export`, which makes it
    /// pending again while it has attempts left.
    ///
    /// - Returns: How working on the job ended.
    private func fail(
        _ claim: Claim,
        _ error: any Error,
        on connection: PostgresConnection,
        failures: inout [PassSummary.Failure]
    ) async throws -> PassSummary.JobResult.Outcome {
        let message = "\(error)"
        do {
            let status = try await connection.query(
                "SELECT auditlog.fail_export($1::int8, $2::uuid, $3)",
                claim.fence + [message]
            ).singleRow(of: "auditlog.fail_export")[0]
            failures.append(.init(step: "export job \(claim.id)", message: message))
            return .failed(willRetry: status == "pending")
        } catch let failure as PostgresError where failure.code == .lockNotAvailable {
            return .abandoned
        } catch let failure as PostgresError where failure.kind != .connection {
            // The job is retried anyway once its lease expires, while it has
            // attempts left.
            failures.append(
                .init(
                    step: "export job \(claim.id)",
                    message: "\(message); reporting it failed too: \(failure)"))
            return .failed(willRetry: true)
        }
    }

    /// Extends the job's lease.
    private func heartbeat(_ claim: Claim, on connection: PostgresConnection) async throws {
        try await connection.query(
            "SELECT auditlog.heartbeat_export($1::int8, $2::uuid, $3::interval)", claim.fence + [lease])
    }

    /// Whether part `part` with `rows` entries is staged and composed: every
    /// part with entries, and the first one even without (an empty export is
    /// an empty gzip stream, or the CSV header).
    private static func isStored(part: Int, rows: Int) -> Bool {
        rows > 0 || part == 1
    }
}

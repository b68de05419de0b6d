extension ExportJobWorker {
    /// A job claimed with `auditlog.claim_export`, with its fencing token,
    /// and the object keys it is exported under.
    struct Claim {
        var id: Int64
        var token: String
        var stream: String
        /// The window's bounds in UTC, `2026-03-01` at midnight and
        /// `2026-03-01T120000Z` otherwise.
        var from: String
        var to: String
        var tenantID: String?
        /// `ndjson.gz` or `csv`.
        var format: String

        /// Claims the oldest claimable job, or returns `nil` when there is none.
        static func next(worker: String, lease: String, on connection: PostgresConnection) async throws -> Claim? {
            let time = #"'YYYY-MM-DD"T"HH24MISS"Z"'"#
            let result = try await connection.query(
                """
                SELECT c.job_id, c.lease_token, c.stream, to_char(c.range_start AT TIME ZONE 'UTC', \(time)) AS range_start,
                       to_char(c.range_end AT TIME ZONE 'UTC', \(time)) AS range_end, c.tenant_id, c.format
                FROM auditlog.claim_export($1, $2::interval) c
                """, [worker, lease])
            guard let row = result.rows.first else { return nil }
            func day(_ time: String) -> String {
                time.hasSuffix("T000000Z") ? String(time.dropLast("T000000Z".count)) : time
            }
            return Claim(
                id: try row.decode(Int64.self, "job_id"),
                token: try row.decode(String.self, "lease_token"),
                stream: try row.decode(String.self, "stream"),
                from: day(try row.decode(String.self, "range_start")),
                to: day(try row.decode(String.self, "range_end")),
                tenantID: try row.decode(String?.self, "tenant_id"),
                format: try row.decode(String.self, "format")
            )
        }

        /// The job's id and fencing token: the first two arguments of every
        /// function that works on a claimed job.
        var fence: [String?] {
            [String(id), token]
        }

        /// `exports/job-<id>`: everything of this job lives below it.
        var folder: String {
            "exports/job-\(id)"
        }

        /// The final object: `<stream>_<from>_<to>[_<tenant>].<ext>`. A
        /// tenant id may hold any character, so it is reduced to letters,
        /// digits, `.`, `_` and `-` (at most 64), and left out if nothing
        /// is left; the job's own folder keeps names from colliding.
        var objectKey: String {
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
            let tenant = String((tenantID ?? "").map { allowed.contains($0) ? $0 : "-" }.prefix(64))
            let tenantPart = tenant.contains(where: { $0.isLetter || $0.isNumber }) ? "_" + tenant : ""
            return "\(folder)/\(stream)_\(from)_\(to)\(tenantPart).\(format)"
        }
    }
}

public import Foundation

/// An on-demand export job, a row of the view `auditlog.export_status`.
public struct ExportJobStatus: Codable, Sendable, Equatable {
    /// The job's id.
    public var id: Int64
    /// `pending`, `running`, `done`, `failed` or `cancelled`.
    public var status: String
    /// The stream exported.
    public var stream: String
    /// The tenant exported, or every tenant.
    public var tenantID: String?
    /// Who asked for it.
    public var requestedBy: String
    /// `ndjson.gz` or `csv`.
    public var format: String
    /// Entries exported so far.
    public var rowsExported: Int64
    /// Attempts so far.
    public var attempts: Int
    /// The link to download the result, once done.
    public var downloadURL: String?
    /// Why it last failed, if it did.
    public var error: String?
    /// The window's inclusive start.
    public var rangeStart: Date?
    /// The window's exclusive end.
    public var rangeEnd: Date?
    /// Parts stored so far.
    public var partsExported: Int
    /// The most attempts before the job fails for good.
    public var maxAttempts: Int?
    /// The exported object, once done: `file:///…` or `s3://…`.
    public var objectURL: String?
    /// Its size in bytes, once done.
    public var bytes: Int64?
    /// Its SHA-256 in hex, once done.
    public var sha256: String?
    /// When ``downloadURL`` stops working; `nil` for a link that does not
    /// expire (a `file://` URL).
    public var linkExpiresAt: Date?
    /// When it was requested.
    public var createdAt: Date?
    /// When it ended.
    public var finishedAt: Date?

    /// Creates a status.
    public init(
        id: Int64, status: String, stream: String, tenantID: String?, requestedBy: String, format: String,
        rowsExported: Int64, attempts: Int, downloadURL: String?, error: String?,
        rangeStart: Date? = nil, rangeEnd: Date? = nil, partsExported: Int = 0, maxAttempts: Int? = nil,
        objectURL: String? = nil, bytes: Int64? = nil, sha256: String? = nil, linkExpiresAt: Date? = nil,
        createdAt: Date? = nil, finishedAt: Date? = nil
    ) {
        self.id = id
        self.status = status
        self.stream = stream
        self.tenantID = tenantID
        self.requestedBy = requestedBy
        self.format = format
        self.rowsExported = rowsExported
        self.attempts = attempts
        self.downloadURL = downloadURL
        self.error = error
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.partsExported = partsExported
        self.maxAttempts = maxAttempts
        self.objectURL = objectURL
        self.bytes = bytes
        self.sha256 = sha256
        self.linkExpiresAt = linkExpiresAt
        self.createdAt = createdAt
        self.finishedAt = finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case id
        case status
        case stream
        case tenantID = "tenant_id"
        case requestedBy = "requested_by"
        case format
        case rowsExported = "rows_exported"
        case attempts
        case downloadURL = "download_url"
        case error
        case rangeStart = "range_start"
        case rangeEnd = "range_end"
        case partsExported = "parts_exported"
        case maxAttempts = "max_attempts"
        case objectURL = "object_url"
        case bytes
        case sha256
        case linkExpiresAt = "link_expires_at"
        case createdAt = "created_at"
        case finishedAt = "finished_at"
    }

    /// Encodes absent values as `null` so that every job has the same keys.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(status, forKey: .status)
        try container.encode(stream, forKey: .stream)
        try container.encode(tenantID, forKey: .tenantID)
        try container.encode(requestedBy, forKey: .requestedBy)
        try container.encode(format, forKey: .format)
        try container.encode(rowsExported, forKey: .rowsExported)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(downloadURL, forKey: .downloadURL)
        try container.encode(error, forKey: .error)
        try container.encode(rangeStart, forKey: .rangeStart)
        try container.encode(rangeEnd, forKey: .rangeEnd)
        try container.encode(partsExported, forKey: .partsExported)
        try container.encode(maxAttempts, forKey: .maxAttempts)
        try container.encode(objectURL, forKey: .objectURL)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(sha256, forKey: .sha256)
        try container.encode(linkExpiresAt, forKey: .linkExpiresAt)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(finishedAt, forKey: .finishedAt)
    }
}

extension ExportJobStatus {
    /// Requests an export of `[from, to)` of `stream` with
    /// `auditlog.request_export`; a pass with an export URL then exports it.
    ///
    /// - Parameters:
    ///   - from: The window's start, as PostgreSQL reads a timestamptz.
    ///   - to: The window's end, no later than the settled horizon.
    ///   - tenantID: One tenant's entries only, or `nil` for every tenant's.
    ///   - format: `ndjson.gz` or `csv`.
    /// - Returns: The job's id.
    /// - Throws: ``PostgresError`` for a bad stream or format, an empty or
    ///   unsettled window, or one longer than 92 days.
    public static func request(
        stream: String, from: String, to: String, tenantID: String?, requestedBy: String, format: String,
        on connection: PostgresConnection
    ) async throws -> Int64 {
        try await connection.query(
            "SELECT auditlog.request_export($1, $2::timestamptz, $3::timestamptz, $4, $5, $6)",
            [stream, from, to, tenantID, requestedBy, format]
        ).singleRow(of: "auditlog.request_export")[0, as: Int64.self]
    }

    /// Cancels the job `id`; its worker is fenced off.
    ///
    /// - Returns: `false` if it had ended already.
    public static func cancel(_ id: Int64, on connection: PostgresConnection) async throws -> Bool {
        try await connection.query("SELECT auditlog.cancel_export($1::int8)", [String(id)])
            .singleRow(of: "auditlog.cancel_export")[0, as: Bool.self]
    }

    /// Reads the job `id`.
    ///
    /// - Throws: ``AuditlogError/exportJobNotFound(_:)`` when there is none.
    public static func fetch(_ id: Int64, from connection: PostgresConnection) async throws -> ExportJobStatus {
        guard
            let job = try await connection.query(
                "SELECT \(columns) FROM auditlog.export_status WHERE job_id = $1::int8",
                [String(id)]
            ).rows.first
        else { throw AuditlogError.exportJobNotFound(id) }
        return try decode(job)
    }

    /// Reads the most recent export jobs, newest first.
    public static func fetchRecent(from connection: PostgresConnection, limit: Int = 20) async throws
        -> [ExportJobStatus]
    {
        try await connection.query(
            "SELECT \(columns) FROM auditlog.export_status ORDER BY job_id DESC LIMIT $1::int",
            [String(limit)]
        ).rows.map(decode)
    }

    // Times are selected as seconds since the Unix epoch (see `Date`'s
    // `PostgresTextDecodable`), under the view's column names.
    private static let columns = """
        job_id, status, stream, tenant_id, requested_by, format, rows_exported, attempts, download_url, error,
        parts_exported, max_attempts, object_url, bytes, sha256,
        extract(epoch FROM range_start) AS range_start, extract(epoch FROM range_end) AS range_end,
        extract(epoch FROM link_expires_at) AS link_expires_at, extract(epoch FROM created_at) AS created_at,
        extract(epoch FROM finished_at) AS finished_at
        """

    private static func decode(_ row: QueryResult.Row) throws -> ExportJobStatus {
        ExportJobStatus(
            id: try row.decode(Int64.self, "job_id"),
            status: try row.decode(String.self, "status"),
            stream: try row.decode(String.self, "stream"),
            tenantID: try row.decode(String?.self, "tenant_id"),
            requestedBy: try row.decode(String.self, "requested_by"),
            format: try row.decode(String.self, "format"),
            rowsExported: try row.decode(Int64.self, "rows_exported"),
            attempts: try row.decode(Int.self, "attempts"),
            downloadURL: try row.decode(String?.self, "download_url"),
            error: try row.decode(String?.self, "error"),
            rangeStart: try row.decode(Date?.self, "range_start"),
            rangeEnd: try row.decode(Date?.self, "range_end"),
            partsExported: try row.decode(Int.self, "parts_exported"),
            maxAttempts: try row.decode(Int?.self, "max_attempts"),
            objectURL: try row.decode(String?.self, "object_url"),
            bytes: try row.decode(Int64?.self, "bytes"),
            sha256: try row.decode(String?.self, "sha256"),
            linkExpiresAt: try row.decode(Date?.self, "link_expires_at"),
            createdAt: try row.decode(Date?.self, "created_at"),
            finishedAt: try row.decode(Date?.self, "finished_at")
        )
    }
}

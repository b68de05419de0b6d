import Foundation

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

    /// Creates a status.
    public init(
        id: Int64, status: String, stream: String, tenantID: String?, requestedBy: String, format: String,
        rowsExported: Int64, attempts: Int, downloadURL: String?, error: String?
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
    }
}

extension ExportJobStatus {
    /// Reads the most recent export jobs, newest first.
    public static func fetchRecent(from connection: PostgresConnection, limit: Int = 20) throws -> [ExportJobStatus] {
        try connection.query("""
            SELECT job_id, status, stream, tenant_id, requested_by, format, rows_exported, attempts, download_url, error
            FROM auditlog.export_status
            ORDER BY job_id DESC
            LIMIT $1::int
            """, [String(limit)]).rows.map { row in
            ExportJobStatus(
                id: try row[0, as: Int64.self],
                status: try row[1, as: String.self],
                stream: try row[2, as: String.self],
                tenantID: row[3],
                requestedBy: try row[4, as: String.self],
                format: try row[5, as: String.self],
                rowsExported: try row[6, as: Int64.self],
                attempts: try row[7, as: Int.self],
                downloadURL: row[8],
                error: row[9]
            )
        }
    }

    /// The jobs as a table for a terminal.
    public static func renderText(_ jobs: [ExportJobStatus]) -> String {
        guard !jobs.isEmpty else { return "no export jobs" }
        return TextTable.aligned(
            [["JOB", "STATUS", "STREAM", "TENANT", "FORMAT", "ENTRIES", "ATTEMPTS", "REQUESTED BY"]]
                + jobs.map {
                    [
                        String($0.id), $0.status, $0.stream, $0.tenantID ?? "all", $0.format, String($0.rowsExported),
                        String($0.attempts), $0.requestedBy,
                    ]
                },
            rightAligned: [0, 5, 6]
        ).joined(separator: "\n")
    }
}

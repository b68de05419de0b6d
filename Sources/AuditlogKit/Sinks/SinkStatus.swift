/// How far a sink has exported: a row of the view `auditlog.sink_status`.
public struct SinkStatus: Codable, Sendable, Equatable {
    /// The sink's name.
    public var name: String
    /// Whether the sink exports.
    public var enabled: Bool
    /// Where the sink's objects go.
    public var url: String
    /// How old the oldest entry not yet exported may be, in seconds; `nil`
    /// before the sink's first export point is known.
    public var lagSeconds: Double?
    /// Entries committed but not yet acknowledged, counted up to one million.
    public var lagRows: Int64
    /// Pages uploaded and acknowledged.
    public var pagesAcked: Int64
    /// Entries in those pages.
    public var rowsAcked: Int64

    /// Creates a status.
    public init(
        name: String,
        enabled: Bool,
        url: String,
        lagSeconds: Double?,
        lagRows: Int64,
        pagesAcked: Int64,
        rowsAcked: Int64
    ) {
        self.name = name
        self.enabled = enabled
        self.url = url
        self.lagSeconds = lagSeconds
        self.lagRows = lagRows
        self.pagesAcked = pagesAcked
        self.rowsAcked = rowsAcked
    }

    enum CodingKeys: String, CodingKey {
        case name
        case enabled
        case url
        case lagSeconds = "lag_seconds"
        case lagRows = "lag_rows"
        case pagesAcked = "pages_acked"
        case rowsAcked = "rows_acked"
    }

    /// Encodes an unknown lag as `null` rather than leaving the key out, so
    /// that every sink has the same keys.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(enabled, forKey: .enabled)
        try container.encode(url, forKey: .url)
        try container.encode(lagSeconds, forKey: .lagSeconds)
        try container.encode(lagRows, forKey: .lagRows)
        try container.encode(pagesAcked, forKey: .pagesAcked)
        try container.encode(rowsAcked, forKey: .rowsAcked)
    }
}

extension SinkStatus {
    /// Reads every sink's status, ordered by name.
    public static func fetchAll(from connection: PostgresConnection) async throws -> [SinkStatus] {
        try await connection.query(
            """
            SELECT sink, enabled, url, lag_seconds, coalesce(lag_rows, 0) AS lag_rows,
                   coalesce(pages_acked, 0) AS pages_acked, coalesce(rows_acked, 0) AS rows_acked
            FROM auditlog.sink_status
            ORDER BY sink
            """
        ).rows.map { row in
            SinkStatus(
                name: try row.decode(String.self, "sink"),
                enabled: try row.decode(Bool.self, "enabled"),
                url: try row.decode(String.self, "url"),
                lagSeconds: try row.decode(Double?.self, "lag_seconds"),
                lagRows: try row.decode(Int64.self, "lag_rows"),
                pagesAcked: try row.decode(Int64.self, "pages_acked"),
                rowsAcked: try row.decode(Int64.self, "rows_acked")
            )
        }
    }
}

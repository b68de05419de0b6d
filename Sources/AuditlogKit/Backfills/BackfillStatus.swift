public import Foundation

/// A backfill: a sink's export of a past window on request, a row of the
/// view `auditlog.backfill_status`.
public struct BackfillStatus: Codable, Sendable, Equatable {
    /// The backfill's id.
    public var id: Int64
    /// The sink it exports to.
    public var sink: String
    /// `running`, `done` or `cancelled`.
    public var status: String
    /// How far through its window it is, 0 to 100.
    public var percent: Double
    /// Entries exported so far.
    public var rowsExported: Int64
    /// Pages exported so far.
    public var pagesExported: Int64
    /// The window's inclusive start.
    public var rangeStart: Date
    /// The window's exclusive end.
    public var rangeEnd: Date

    /// Creates a status.
    public init(
        id: Int64, sink: String, status: String, percent: Double, rowsExported: Int64, pagesExported: Int64,
        rangeStart: Date, rangeEnd: Date
    ) {
        self.id = id
        self.sink = sink
        self.status = status
        self.percent = percent
        self.rowsExported = rowsExported
        self.pagesExported = pagesExported
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
    }

    enum CodingKeys: String, CodingKey {
        case id
        case sink
        case status
        case percent
        case rowsExported = "rows_exported"
        case pagesExported = "pages_exported"
        case rangeStart = "range_start"
        case rangeEnd = "range_end"
    }
}

extension BackfillStatus {
    /// Starts a backfill of `[from, to)` for `sink` with
    /// `auditlog.start_backfill`; `auditlogctl run` then exports it.
    ///
    /// - Parameters:
    ///   - from: The window's start, as PostgreSQL reads a timestamptz.
    ///   - to: The window's end, no later than the settled horizon.
    /// - Returns: The backfill's id.
    /// - Throws: ``PostgresError`` for an unknown sink or a window that is
    ///   empty, not settled yet or older than the oldest partition.
    public static func start(sink: String, from: String, to: String, on connection: PostgresConnection) async throws
        -> Int64
    {
        try await connection.query(
            "SELECT auditlog.start_backfill($1, $2::timestamptz, $3::timestamptz)", [sink, from, to]
        )
        .singleRow(of: "auditlog.start_backfill")[0, as: Int64.self]
    }

    /// Cancels the backfill `id`.
    ///
    /// - Returns: `false` if it had ended already.
    public static func cancel(_ id: Int64, on connection: PostgresConnection) async throws -> Bool {
        try await connection.query("SELECT auditlog.cancel_backfill($1::int8)", [String(id)])
            .singleRow(of: "auditlog.cancel_backfill")[0, as: Bool.self]
    }

    /// Reads every backfill's status, newest first.
    public static func fetchAll(from connection: PostgresConnection) async throws -> [BackfillStatus] {
        try await connection.query(
            """
            SELECT backfill_id, sink, status, percent::float8 AS percent, rows_exported, pages_exported,
                   extract(epoch FROM range_start) AS range_start, extract(epoch FROM range_end) AS range_end
            FROM auditlog.backfill_status
            ORDER BY backfill_id DESC
            """
        ).rows.map { row in
            BackfillStatus(
                id: try row.decode(Int64.self, "backfill_id"),
                sink: try row.decode(String.self, "sink"),
                status: try row.decode(String.self, "status"),
                percent: try row.decode(Double.self, "percent"),
                rowsExported: try row.decode(Int64.self, "rows_exported"),
                pagesExported: try row.decode(Int64.self, "pages_exported"),
                rangeStart: try row.decode(Date.self, "range_start"),
                rangeEnd: try row.decode(Date.self, "range_end")
            )
        }
    }

    /// The backfills as a table for a terminal, with a progress bar.
    public static func renderText(_ backfills: [BackfillStatus]) -> String {
        guard !backfills.isEmpty else { return "no backfills" }
        return TextTable.aligned(
            [["ID", "SINK", "STATUS", "PROGRESS", "ENTRIES", "PAGES", "WINDOW"]]
                + backfills.map {
                    [
                        String($0.id), $0.sink, $0.status, progressBar($0.percent), String($0.rowsExported),
                        String($0.pagesExported),
                        "\($0.rangeStart.formatted(.iso8601)) .. \($0.rangeEnd.formatted(.iso8601))",
                    ]
                },
            rightAligned: [0, 4, 5]
        ).joined(separator: "\n")
    }

    /// `[#####     ]  50%`.
    static func progressBar(_ percent: Double) -> String {
        let clamped = min(max(percent.isNaN ? 0 : percent, 0), 100)
        let filled = Int((clamped / 10).rounded(.down))
        let number = String(Int(clamped.rounded(.down)))
        return "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: 10 - filled) + "] "
            + String(repeating: " ", count: 3 - number.count) + number + "%"
    }
}

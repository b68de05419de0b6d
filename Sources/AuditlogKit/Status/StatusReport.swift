public import Foundation

/// A snapshot of auditlog's state in one database: what `auditlogctl status` shows.
///
/// All times are absolute instants; renderings show them in UTC.
public struct StatusReport: Codable, Sendable, Equatable {
    /// The installed release of auditlog (of either edition).
    public var extensionVersion: String
    /// The installed edition of auditlog: with C, or the SQL edition.
    public var edition: Auditlog.Edition
    /// Overall health, from the view `auditlog.health`.
    public var health: Health
    /// The log's partitions, oldest first, from the view `auditlog.partitions`.
    public var partitions: [Partition]
    /// The export sinks, by name, from the view `auditlog.sink_status`.
    public var sinks: [SinkStatus]
    /// The backfills, newest first, from the view `auditlog.backfill_status`.
    public var backfills: [BackfillStatus]
    /// The most recent export jobs, newest first, from the view
    /// `auditlog.export_status`.
    public var exportJobs: [ExportJobStatus]

    /// Creates a report.
    public init(
        extensionVersion: String,
        edition: Auditlog.Edition,
        health: Health,
        partitions: [Partition],
        sinks: [SinkStatus] = [],
        backfills: [BackfillStatus] = [],
        exportJobs: [ExportJobStatus] = []
    ) {
        self.extensionVersion = extensionVersion
        self.edition = edition
        self.health = health
        self.partitions = partitions
        self.sinks = sinks
        self.backfills = backfills
        self.exportJobs = exportJobs
    }

    /// Overall health: one row of the view `auditlog.health`.
    public struct Health: Codable, Sendable, Equatable {
        /// Entries begun and not yet completed or timed out.
        public var pendingCount: Int64
        /// When the oldest pending entry began, if any is pending.
        public var oldestPending: Date?
        /// The number of time partitions.
        public var partitionCount: Int
        /// The start of the oldest partition, if there is one.
        public var oldestPartitionStart: Date?
        /// The end of the newest partition, if there is one.
        public var newestPartitionEnd: Date?
        /// Rows in the default partition, which catches entries outside every
        /// partition's range; normally zero.
        public var defaultPartitionRows: Int64
        /// When the last tick was taken, if any was.
        public var lastTickAt: Date?
        /// Every entry logged before this time is committed.
        public var settledHorizon: Date?
        /// What holds the settled horizon back, when the database role may
        /// see it: the oldest prepared or open transaction.
        public var oldestTransaction: String?
        /// Imports registered and not yet written: each holds the settled
        /// horizon at its start.
        public var openImports: Int64
        /// The start of the oldest open import, if any is open.
        public var oldestOpenImportStart: Date?
        /// Whether an open import's importer is gone (the next tick marks
        /// its span abandoned).
        public var openImportAbandoned: Bool

        /// Creates a health summary.
        public init(
            pendingCount: Int64,
            oldestPending: Date?,
            partitionCount: Int,
            oldestPartitionStart: Date?,
            newestPartitionEnd: Date?,
            defaultPartitionRows: Int64,
            lastTickAt: Date? = nil,
            settledHorizon: Date? = nil,
            oldestTransaction: String? = nil,
            openImports: Int64 = 0,
            oldestOpenImportStart: Date? = nil,
            openImportAbandoned: Bool = false
        ) {
            self.pendingCount = pendingCount
            self.oldestPending = oldestPending
            self.partitionCount = partitionCount
            self.oldestPartitionStart = oldestPartitionStart
            self.newestPartitionEnd = newestPartitionEnd
            self.defaultPartitionRows = defaultPartitionRows
            self.lastTickAt = lastTickAt
            self.settledHorizon = settledHorizon
            self.oldestTransaction = oldestTransaction
            self.openImports = openImports
            self.oldestOpenImportStart = oldestOpenImportStart
            self.openImportAbandoned = openImportAbandoned
        }

        enum CodingKeys: String, CodingKey {
            case pendingCount = "pending_count"
            case oldestPending = "oldest_pending"
            case partitionCount = "partition_count"
            case oldestPartitionStart = "oldest_partition_start"
            case newestPartitionEnd = "newest_partition_end"
            case defaultPartitionRows = "default_partition_rows"
            case lastTickAt = "last_tick_at"
            case settledHorizon = "settled_horizon"
            case oldestTransaction = "oldest_transaction"
            case openImports = "open_imports"
            case oldestOpenImportStart = "oldest_open_import_start"
            case openImportAbandoned = "open_import_abandoned"
        }

        /// Encodes absent times as `null` rather than leaving the keys out,
        /// so that every report has the same keys.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(pendingCount, forKey: .pendingCount)
            try container.encode(oldestPending, forKey: .oldestPending)
            try container.encode(partitionCount, forKey: .partitionCount)
            try container.encode(oldestPartitionStart, forKey: .oldestPartitionStart)
            try container.encode(newestPartitionEnd, forKey: .newestPartitionEnd)
            try container.encode(defaultPartitionRows, forKey: .defaultPartitionRows)
            try container.encode(lastTickAt, forKey: .lastTickAt)
            try container.encode(settledHorizon, forKey: .settledHorizon)
            try container.encode(oldestTransaction, forKey: .oldestTransaction)
            try container.encode(openImports, forKey: .openImports)
            try container.encode(oldestOpenImportStart, forKey: .oldestOpenImportStart)
            try container.encode(openImportAbandoned, forKey: .openImportAbandoned)
        }
    }

    /// One time partition of the log: a row of the view `auditlog.partitions`.
    public struct Partition: Codable, Sendable, Equatable {
        /// The partition table's name.
        public var name: String
        /// The inclusive start of the partition's time range.
        public var rangeStart: Date
        /// The exclusive end of the partition's time range.
        public var rangeEnd: Date
        /// The partition's size on disk, indexes and TOAST included.
        public var totalBytes: Int64

        /// Creates a partition description.
        public init(name: String, rangeStart: Date, rangeEnd: Date, totalBytes: Int64) {
            self.name = name
            self.rangeStart = rangeStart
            self.rangeEnd = rangeEnd
            self.totalBytes = totalBytes
        }

        enum CodingKeys: String, CodingKey {
            case name
            case rangeStart = "range_start"
            case rangeEnd = "range_end"
            case totalBytes = "total_bytes"
        }
    }

    enum CodingKeys: String, CodingKey {
        case extensionVersion = "extension_version"
        case edition
        case health
        case partitions
        case sinks
        case backfills
        case exportJobs = "export_jobs"
    }
}

extension StatusReport {
    /// Reads the report from a database.
    ///
    /// - Throws: ``AuditlogError/extensionNotInstalled`` when the database has
    ///   neither edition of auditlog (see ``Auditlog/installed(on:)``), and
    ///   ``PostgresError`` when a query fails.
    public static func fetch(from connection: PostgresConnection) async throws -> StatusReport {
        guard let installed = try await Auditlog.installed(on: connection) else {
            throw AuditlogError.extensionNotInstalled
        }
        return StatusReport(
            extensionVersion: installed.version,
            edition: installed.edition,
            health: try await Health.fetch(from: connection),
            partitions: try await Partition.fetchAll(from: connection),
            sinks: try await SinkStatus.fetchAll(from: connection),
            backfills: try await BackfillStatus.fetchAll(from: connection),
            exportJobs: try await ExportJobStatus.fetchRecent(from: connection)
        )
    }
}

// Times are selected as seconds since the Unix epoch, under their own column
// names, which is how `Date` reads them (see `PostgresTextDecodable`).

extension StatusReport.Health {
    static func fetch(from connection: PostgresConnection) async throws -> Self {
        let row = try await connection.query(
            """
            SELECT pending_count,
                   extract(epoch FROM oldest_pending) AS oldest_pending,
                   partition_count,
                   extract(epoch FROM oldest_partition_start) AS oldest_partition_start,
                   extract(epoch FROM newest_partition_end) AS newest_partition_end,
                   default_partition_rows,
                   extract(epoch FROM last_tick_at) AS last_tick_at,
                   extract(epoch FROM settled_horizon) AS settled_horizon,
                   oldest_transaction,
                   open_imports,
                   extract(epoch FROM oldest_open_import_start) AS oldest_open_import_start,
                   open_import_abandoned
            FROM auditlog.health
            """
        ).singleRow(of: "auditlog.health")
        return Self(
            pendingCount: try row.decode(Int64.self, "pending_count"),
            oldestPending: try row.decode(Date?.self, "oldest_pending"),
            partitionCount: try row.decode(Int.self, "partition_count"),
            oldestPartitionStart: try row.decode(Date?.self, "oldest_partition_start"),
            newestPartitionEnd: try row.decode(Date?.self, "newest_partition_end"),
            defaultPartitionRows: try row.decode(Int64.self, "default_partition_rows"),
            lastTickAt: try row.decode(Date?.self, "last_tick_at"),
            settledHorizon: try row.decode(Date?.self, "settled_horizon"),
            oldestTransaction: try row.decode(String?.self, "oldest_transaction"),
            openImports: try row.decode(Int64.self, "open_imports"),
            oldestOpenImportStart: try row.decode(Date?.self, "oldest_open_import_start"),
            openImportAbandoned: try row.decode(Bool.self, "open_import_abandoned")
        )
    }
}

extension StatusReport.Partition {
    static func fetchAll(from connection: PostgresConnection) async throws -> [Self] {
        try await connection.query(
            """
            SELECT partition_name,
                   extract(epoch FROM range_start) AS range_start,
                   extract(epoch FROM range_end) AS range_end,
                   total_bytes
            FROM auditlog.partitions
            ORDER BY range_start
            """
        ).rows.map { row in
            Self(
                name: try row.decode(String.self, "partition_name"),
                rangeStart: try row.decode(Date.self, "range_start"),
                rangeEnd: try row.decode(Date.self, "range_end"),
                totalBytes: try row.decode(Int64.self, "total_bytes")
            )
        }
    }
}

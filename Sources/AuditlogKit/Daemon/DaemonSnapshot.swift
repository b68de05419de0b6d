public import Foundation

/// What an export daemon knows after its latest pass, for `/metrics`,
/// `/healthz` and `/status`: counts since it started, how the last pass
/// went, and the status report read right after it.
///
/// Serving from a snapshot means a scrape never queries the database.
public struct DaemonSnapshot: Sendable, Equatable {
    /// Passes run since the daemon started.
    public var passes = 0
    /// Pages, entries and bytes exported since the daemon started, by sink
    /// name, backfills included.
    public var exported: [String: ExportTotals] = [:]
    /// Failed steps since the daemon started, by ``stepKind(_:)``.
    public var errors: [String: Int] = [:]
    /// The latest pass, if one has run.
    public var lastPass: LastPass?
    /// When the latest pass that succeeded ended.
    public var lastSuccessAt: Date?
    /// The status report read after the latest pass; `nil` when it could
    /// not be read.
    public var status: StatusReport?
    /// Why the status report could not be read after the latest pass.
    public var statusError: String?

    /// Creates an empty snapshot: no pass yet.
    public init() {}

    /// Pages, entries and bytes exported for one sink.
    public struct ExportTotals: Sendable, Equatable {
        /// Pages uploaded and acknowledged.
        public var pages = 0
        /// Entries in those pages.
        public var rows = 0
        /// Compressed bytes uploaded.
        public var bytes = 0

        /// Creates totals.
        public init(pages: Int = 0, rows: Int = 0, bytes: Int = 0) {
            self.pages = pages
            self.rows = rows
            self.bytes = bytes
        }
    }

    /// How the latest pass went.
    public struct LastPass: Sendable, Equatable {
        /// When it ended.
        public var endedAt: Date
        /// How long it ran.
        public var duration: Duration
        /// Whether it reached the database: false when the connection
        /// could not be opened or was lost.
        public var reachedDatabase: Bool
        /// Its first failure, on one line; `nil` when it succeeded.
        public var failure: String?

        /// Creates a description of a pass.
        public init(endedAt: Date, duration: Duration, reachedDatabase: Bool, failure: String? = nil) {
            self.endedAt = endedAt
            self.duration = duration
            self.reachedDatabase = reachedDatabase
            self.failure = failure
        }
    }

    /// Adds a pass that ended, and the status report read after it (or why
    /// that failed; `nil` when it was not attempted).
    public mutating func record(_ pass: PassLoop.Pass, status: Result<StatusReport, any Error>?) {
        passes += 1
        let endedAt = pass.startedAt.addingTimeInterval(pass.duration.seconds)
        switch pass.result {
        case .success(let summary):
            for result in summary.sinks + summary.backfills.map(\.export) {
                exported[result.name, default: ExportTotals()].pages += result.pages
                exported[result.name, default: ExportTotals()].rows += result.rows
                exported[result.name, default: ExportTotals()].bytes += result.bytes
            }
            for failure in summary.failures {
                errors[Self.stepKind(failure.step), default: 0] += 1
            }
            lastPass = LastPass(
                endedAt: endedAt, duration: pass.duration, reachedDatabase: true,
                failure: summary.failures.first.map { $0.description.joinedOnOneLine })
            if summary.succeeded {
                lastSuccessAt = endedAt
            }
        case .failure(let error):
            errors["pass", default: 0] += 1
            lastPass = LastPass(
                endedAt: endedAt, duration: pass.duration, reachedDatabase: false,
                failure: "\(error)".joinedOnOneLine)
        }
        switch status {
        case .success(let report):
            self.status = report
            statusError = nil
        case .failure(let error):
            errors["status", default: 0] += 1
            self.status = nil
            statusError = "\(error)".joinedOnOneLine
        case nil:
            self.status = nil
            statusError = nil
        }
    }

    /// A failed step's kind, a label with few values: the step without the
    /// sink name or backfill id it names (`sink`, `backfill`), the
    /// maintenance step (`tick`, `timeout_pending`, `ensure_partitions`,
    /// `purge`, `list_sinks`, `list_backfills`), `pass` for a pass that
    /// could not reach the database and `status` for a status report that
    /// could not be read.
    public static func stepKind(_ step: String) -> String {
        if step.hasPrefix("list ") {
            return step.replacing(" ", with: "_")
        }
        return String(step.prefix { $0 != " " })
    }
}

extension String {
    /// The text with its lines joined by spaces, blank ones left out.
    fileprivate var joinedOnOneLine: String {
        split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
}

extension Duration {
    /// The duration in seconds, with fractions.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

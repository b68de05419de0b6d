/// What one export pass did: the report of ``PassRunner/run(on:)``.
public struct PassSummary: Sendable, Equatable {
    /// Pending entries that `timeout_pending` closed with result `timeout`.
    public var timedOutEntries: Int
    /// Day partitions that `ensure_partitions` created.
    public var partitionsCreated: Int
    /// Day partitions that `purge` dropped.
    public var partitionsDropped: Int
    /// The sinks the pass drained or skipped, by name.
    public var sinks: [SinkResult]
    /// The running backfills the pass advanced, by id.
    public var backfills: [BackfillResult]
    /// The on-demand export jobs the pass worked on, in the order claimed.
    public var jobs: [JobResult]
    /// What went wrong, in order. The pass goes on after a failed step or
    /// sink, so one broken sink does not hold back the others.
    public var failures: [Failure]

    /// Creates a summary.
    public init(
        timedOutEntries: Int = 0,
        partitionsCreated: Int = 0,
        partitionsDropped: Int = 0,
        sinks: [SinkResult] = [],
        backfills: [BackfillResult] = [],
        jobs: [JobResult] = [],
        failures: [Failure] = []
    ) {
        self.timedOutEntries = timedOutEntries
        self.partitionsCreated = partitionsCreated
        self.partitionsDropped = partitionsDropped
        self.sinks = sinks
        self.backfills = backfills
        self.jobs = jobs
        self.failures = failures
    }

    /// Whether every step and every sink succeeded.
    public var succeeded: Bool {
        failures.isEmpty
    }

    /// Whether the pass changed nothing: no entry timed out, no partition
    /// made or dropped, nothing exported, nothing failed. A daemon does not
    /// report such passes.
    public var isIdle: Bool {
        timedOutEntries == 0 && partitionsCreated == 0 && partitionsDropped == 0 && failures.isEmpty
            && sinks.allSatisfy { $0.pages == 0 } && backfills.allSatisfy { $0.export.pages == 0 && !$0.finished }
            && jobs.isEmpty
    }

    /// What the pass did for one sink.
    public struct SinkResult: Sendable, Equatable {
        /// How draining a sink ended.
        public enum Outcome: Sendable, Equatable {
            /// Every page up to the pass's start was uploaded and acknowledged.
            case drained
            /// Another runner was draining the sink, so this pass left it alone.
            case skipped
            /// A page could not be read, uploaded or acknowledged; the
            /// failure is in ``PassSummary/failures``. The page is handed
            /// out again on the next pass.
            case failed
        }

        /// The sink's name.
        public var name: String
        /// How draining it ended.
        public var outcome: Outcome
        /// Pages uploaded and acknowledged.
        public var pages: Int
        /// Entries in those pages.
        public var rows: Int
        /// Bytes uploaded: the compressed size of those pages.
        public var bytes: Int

        /// Creates a result.
        public init(name: String, outcome: Outcome, pages: Int = 0, rows: Int = 0, bytes: Int = 0) {
            self.name = name
            self.outcome = outcome
            self.pages = pages
            self.rows = rows
            self.bytes = bytes
        }
    }

    /// What the pass did for one backfill: a ``SinkResult`` for its pages,
    /// and whether the backfill is now done.
    public struct BackfillResult: Sendable, Equatable {
        /// The backfill's id.
        public var id: Int64
        /// Its pages, entries and bytes, under the name of its sink.
        public var export: SinkResult
        /// Whether the backfill finished in this pass.
        public var finished: Bool

        /// Creates a result.
        public init(id: Int64, export: SinkResult, finished: Bool = false) {
            self.id = id
            self.export = export
            self.finished = finished
        }
    }

    /// What the pass did for one on-demand export job.
    public struct JobResult: Sendable, Equatable {
        /// How working on a job ended.
        public enum Outcome: Sendable, Equatable {
            /// The object is complete and the job done, with its link.
            case finished
            /// Storing or composing failed; the failure is in
            /// ``PassSummary/failures``. The job is pending again when it
            /// has attempts left, else failed for good.
            case failed(willRetry: Bool)
            /// The job was cancelled, or its lease expired and another
            /// worker took it over, so this one stopped.
            case abandoned
            /// The pass was told to stop; the job is taken over once its
            /// lease expires.
            case interrupted
        }

        /// The job's id.
        public var id: Int64
        /// How it ended.
        public var outcome: Outcome
        /// Parts stored and acknowledged in this pass.
        public var parts: Int
        /// Entries in those parts.
        public var rows: Int
        /// The final object's size once finished; before that, the bytes
        /// of the parts stored.
        public var bytes: Int

        /// Creates a result.
        public init(id: Int64, outcome: Outcome, parts: Int = 0, rows: Int = 0, bytes: Int = 0) {
            self.id = id
            self.outcome = outcome
            self.parts = parts
            self.rows = rows
            self.bytes = bytes
        }
    }

    /// A step or sink that failed.
    public struct Failure: Sendable, Equatable, CustomStringConvertible {
        /// What failed: `tick`, `timeout_pending`, `ensure_partitions`,
        /// `purge`, `sink <name>`, `backfill <id>`, `export jobs` or
        /// `export job <id>`.
        public var step: String
        /// Why, on one line.
        public var message: String

        /// Creates a failure.
        public init(step: String, message: String) {
            self.step = step
            self.message = message
        }

        public var description: String {
            "\(step): \(message)"
        }
    }
}

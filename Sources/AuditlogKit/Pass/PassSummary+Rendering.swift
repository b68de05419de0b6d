extension PassSummary {
    /// The summary for a terminal or a scheduler's log: one line of
    /// maintenance counts, then one line per sink, such as
    /// `sink main: 3 pages, 25000 entries, 1048576 bytes`, then one per
    /// backfill advanced, such as `backfill 4 (main): 2 pages, 12 entries,
    /// 900 bytes, done`, then one per export job, such as
    /// `export job 7: 3 parts, 25000 entries, 1048576 bytes, done`.
    ///
    /// Failures are not included; print ``failures`` to standard error.
    public func renderText() -> String {
        let maintenance =
            "timed out: \(timedOutEntries) entries; partitions: \(partitionsCreated) created, \(partitionsDropped) dropped"
        let sinkLines = sinks.map { "sink \($0.name): " + Self.describe($0) }
        let backfillLines = backfills.map {
            "backfill \($0.id) (\($0.export.name)): " + Self.describe($0.export) + ($0.finished ? ", done" : "")
        }
        let jobLines = jobs.map { "export job \($0.id): " + Self.describe($0) }
        return ([maintenance] + sinkLines + backfillLines + jobLines).joined(separator: "\n")
    }

    private static func describe(_ job: JobResult) -> String {
        let counts = "\(job.parts) parts, \(job.rows) entries, \(job.bytes) bytes"
        switch job.outcome {
        case .finished: return counts + ", done"
        case .failed(willRetry: true): return counts + ", then failed; it will be retried"
        case .failed(willRetry: false): return counts + ", then failed for good (no attempts left)"
        case .abandoned: return counts + ", then abandoned: cancelled or taken over by another worker"
        case .interrupted: return counts + ", interrupted; another pass takes it over when its lease expires"
        }
    }

    private static func describe(_ result: SinkResult) -> String {
        let counts = "\(result.pages) pages, \(result.rows) entries, \(result.bytes) bytes"
        switch result.outcome {
        case .drained: return counts
        case .skipped: return "skipped, another runner is on it"
        case .failed: return "\(counts), then failed"
        }
    }
}

extension ExportSummary {
    /// The summary for a terminal or a scheduler's log: one line of
    /// maintenance counts, then one line per sink, such as
    /// `sink main: 3 pages, 25000 entries, 1048576 bytes`.
    ///
    /// Failures are not included; print ``failures`` to standard error.
    public func renderText() -> String {
        let maintenance = "timed out: \(timedOutEntries) entries; partitions: \(partitionsCreated) created, \(partitionsDropped) dropped"
        let sinkLines = sinks.map { sink in
            let counts = "\(sink.pages) pages, \(sink.rows) entries, \(sink.bytes) bytes"
            switch sink.outcome {
            case .drained: return "sink \(sink.name): \(counts)"
            case .skipped: return "sink \(sink.name): skipped, another runner is draining it"
            case .failed: return "sink \(sink.name): \(counts), then failed"
            }
        }
        return ([maintenance] + sinkLines).joined(separator: "\n")
    }
}

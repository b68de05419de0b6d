public import Logging

extension PassSummary {
    /// Logs the summary as a daemon reports a pass: at level `info`, one
    /// record for the pass with its maintenance counts and one per sink or
    /// backfill that exported pages; at level `error`, one record per
    /// failure with its step kind (``DaemonSnapshot/stepKind(_:)``) as
    /// metadata `step`.
    ///
    /// - Parameter metadata: Added to the pass's record, such as its
    ///   duration.
    public func log(to logger: Logger, metadata: Logger.Metadata = [:]) {
        var passMetadata: Logger.Metadata = [
            "timed_out": "\(timedOutEntries)",
            "partitions_created": "\(partitionsCreated)",
            "partitions_dropped": "\(partitionsDropped)",
            "failures": "\(failures.count)",
        ]
        passMetadata.merge(metadata) { $1 }
        logger.info("pass", metadata: passMetadata)
        for sink in sinks where sink.pages > 0 {
            logger.info("exported", metadata: Self.metadata(sink))
        }
        for backfill in backfills where backfill.export.pages > 0 || backfill.finished {
            var backfillMetadata = Self.metadata(backfill.export)
            backfillMetadata["backfill"] = "\(backfill.id)"
            backfillMetadata["finished"] = "\(backfill.finished)"
            logger.info("backfill exported", metadata: backfillMetadata)
        }
        for failure in failures {
            logger.error("\(failure)", metadata: ["step": "\(DaemonSnapshot.stepKind(failure.step))"])
        }
    }

    private static func metadata(_ result: SinkResult) -> Logger.Metadata {
        [
            "sink": "\(result.name)",
            "pages": "\(result.pages)",
            "rows": "\(result.rows)",
            "bytes": "\(result.bytes)",
        ]
    }
}

import Foundation

extension StatusReport {
    /// The report as JSON for scripts and monitoring.
    ///
    /// The output is stable: keys are sorted, every key is always present
    /// (absent times are `null`), times are ISO-8601 in UTC to the second,
    /// and sizes are plain byte counts.
    public func renderJSON() throws -> String {
        try stableJSON()
    }

    /// The report for a terminal: a summary, a table of partitions, one of
    /// sinks, and backfills and export jobs when there are any, with times in UTC and sizes in binary units (KiB, MiB, …).
    public func renderText() -> String {
        let summary = TextTable.aligned([
            ["extension", Auditlog.Installed(edition: edition, version: extensionVersion).description],
            ["pending entries", String(health.pendingCount)],
            ["oldest pending", Self.time(health.oldestPending)],
            ["partitions", String(health.partitionCount)],
            ["oldest partition start", Self.time(health.oldestPartitionStart)],
            ["newest partition end", Self.time(health.newestPartitionEnd)],
            ["default partition rows", String(health.defaultPartitionRows)],
            ["last tick", Self.time(health.lastTickAt)],
            ["settled horizon", Self.time(health.settledHorizon)],
            ["oldest transaction", health.oldestTransaction ?? "none"],
            ["open imports", Self.openImports(health)],
        ])
        let table =
            partitions.isEmpty
            ? ["no partitions"]
            : TextTable.aligned(
                [["PARTITION", "RANGE START", "RANGE END", "SIZE"]]
                    + partitions.map {
                        [$0.name, Self.time($0.rangeStart), Self.time($0.rangeEnd), Self.byteCount($0.totalBytes)]
                    },
                rightAligned: [3]
            )
        return
            (summary + [""] + table + ["", SinkStatus.renderText(sinks)]
            + (backfills.isEmpty ? [] : ["", BackfillStatus.renderText(backfills)])
            + (exportJobs.isEmpty ? [] : ["", ExportJobStatus.renderText(exportJobs)])).joined(separator: "\n")
    }

    /// `none`, or how many imports are open, since when, and whether one
    /// was left by an importer that is gone.
    private static func openImports(_ health: Health) -> String {
        guard health.openImports > 0 else { return "none" }
        return "\(health.openImports) since \(time(health.oldestOpenImportStart))"
            + (health.openImportAbandoned ? " (an importer is gone: the next tick abandons its span)" : "")
    }

    private static func time(_ date: Date?) -> String {
        date?.formatted(.iso8601.dateTimeSeparator(.space)) ?? "none"
    }

    /// A size in bytes with binary units and one decimal: `512 B`, `1.5 KiB`,
    /// `20.0 GiB`.
    static func byteCount(_ bytes: Int64) -> String {
        guard bytes >= 1024 else { return "\(bytes) B" }
        var value = Double(bytes)
        var unit = "B"
        for next in ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] where value >= 1023.95 {
            value /= 1024
            unit = next
        }
        return String(format: "%.1f ", value) + unit
    }
}

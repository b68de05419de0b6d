import Foundation

/// Writes a ``DaemonSnapshot`` in the Prometheus text exposition format,
/// version 0.0.4, for `/metrics`.
///
/// Every family has `# HELP` and `# TYPE` lines; samples are sorted by
/// label value, so equal snapshots give equal text. Gauges read from the
/// status report are left out when the report could not be read, and those
/// about the last pass before the first one.
public struct MetricsRenderer {
    /// The `Content-Type` of the output.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private var lines: [String] = []

    /// The exposition text for `snapshot`, newline-terminated.
    public static func render(_ snapshot: DaemonSnapshot) -> String {
        var renderer = MetricsRenderer()
        let sinks = snapshot.exported.sorted { $0.key < $1.key }
        renderer.family(
            "auditlog_export_pages_total", .counter, "Pages uploaded and acknowledged, by sink, backfills included.",
            label: "sink", sinks.map { ($0.key, Double($0.value.pages)) })
        renderer.family(
            "auditlog_export_rows_total", .counter, "Entries in the pages uploaded, by sink, backfills included.",
            label: "sink", sinks.map { ($0.key, Double($0.value.rows)) })
        renderer.family(
            "auditlog_export_bytes_total", .counter, "Compressed bytes uploaded, by sink, backfills included.",
            label: "sink", sinks.map { ($0.key, Double($0.value.bytes)) })
        renderer.family(
            "auditlog_pass_errors_total", .counter,
            "Failed steps, by kind: sink, backfill, a maintenance step, pass (no database) or status.",
            label: "step", snapshot.errors.sorted { $0.key < $1.key }.map { ($0.key, Double($0.value)) })
        renderer.family("auditlog_passes_total", .counter, "Export passes run.", Double(snapshot.passes))
        renderer.family(
            "auditlog_up", .gauge, "1 if the last pass reached the database, else 0.",
            snapshot.lastPass?.reachedDatabase == true ? 1 : 0)
        if let lastPass = snapshot.lastPass {
            renderer.family(
                "auditlog_last_pass_duration_seconds", .gauge, "How long the last pass took.",
                lastPass.duration.seconds)
            renderer.family(
                "auditlog_last_pass_timestamp_seconds", .gauge, "When the last pass ended, in Unix time.",
                lastPass.endedAt.timeIntervalSince1970)
        }
        if let lastSuccessAt = snapshot.lastSuccessAt {
            renderer.family(
                "auditlog_last_success_timestamp_seconds", .gauge,
                "When the last pass without any failure ended, in Unix time.",
                lastSuccessAt.timeIntervalSince1970)
        }
        if let status = snapshot.status {
            renderer.family(
                "auditlog_sink_lag_seconds", .gauge,
                "How old the oldest entry a sink has not exported may be; absent while unknown.",
                label: "sink", status.sinks.compactMap { sink in sink.lagSeconds.map { (sink.name, $0) } })
            renderer.family(
                "auditlog_sink_lag_rows", .gauge,
                "Entries committed that a sink has not exported, counted up to one million.",
                label: "sink", status.sinks.map { ($0.name, Double($0.lagRows)) })
            renderer.family(
                "auditlog_pending_entries", .gauge, "Entries begun and not yet completed or timed out.",
                Double(status.health.pendingCount))
            let readAt = snapshot.lastPass?.endedAt
            renderer.family(
                "auditlog_pending_oldest_age_seconds", .gauge,
                "How long the oldest pending entry had been pending after the last pass; 0 when none is.",
                status.health.oldestPending.map { max(0, (readAt ?? $0).timeIntervalSince($0)) } ?? 0)
            renderer.family(
                "auditlog_default_partition_rows", .gauge,
                "Entries in the default partition, outside every day partition; normally 0.",
                Double(status.health.defaultPartitionRows))
        }
        return renderer.lines.map { $0 + "\n" }.joined()
    }

    private enum MetricType: String {
        case counter
        case gauge
    }

    /// A family of one sample without labels.
    private mutating func family(_ name: String, _ type: MetricType, _ help: String, _ value: Double) {
        header(name, type, help)
        lines.append("\(name) \(Self.format(value))")
    }

    /// A family of samples with one label, given as label value and value.
    private mutating func family(
        _ name: String,
        _ type: MetricType,
        _ help: String,
        label: String,
        _ samples: [(String, Double)]
    ) {
        header(name, type, help)
        for (labelValue, value) in samples {
            lines.append("\(name){\(label)=\"\(Self.escapeLabelValue(labelValue))\"} \(Self.format(value))")
        }
    }

    private mutating func header(_ name: String, _ type: MetricType, _ help: String) {
        lines.append("# HELP \(name) \(Self.escapeHelp(help))")
        lines.append("# TYPE \(name) \(type.rawValue)")
    }

    /// A label value with `\`, `"` and line feeds escaped.
    static func escapeLabelValue(_ value: String) -> String {
        value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
    }

    /// Help text with `\` and line feeds escaped.
    static func escapeHelp(_ text: String) -> String {
        text.replacing("\\", with: "\\\\").replacing("\n", with: "\\n")
    }

    /// Whole numbers without a fraction, others as Swift writes them, which
    /// Prometheus parses.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 {
            return String(Int64(value))
        }
        return "\(value)"
    }
}

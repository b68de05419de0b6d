import Foundation

extension ExportJobStatus {
    /// The jobs as a table for a terminal.
    public static func renderText(_ jobs: [ExportJobStatus]) -> String {
        guard !jobs.isEmpty else { return "no export jobs" }
        return TextTable.aligned(
            [["JOB", "STATUS", "STREAM", "TENANT", "FORMAT", "ENTRIES", "ATTEMPTS", "REQUESTED BY"]]
                + jobs.map {
                    [
                        String($0.id), $0.status, $0.stream, $0.tenantID ?? "all", $0.format, String($0.rowsExported),
                        String($0.attempts), $0.requestedBy,
                    ]
                },
            rightAligned: [0, 5, 6]
        ).joined(separator: "\n")
    }

    /// One job for a terminal: what it exports, how far it got, its object
    /// and error, with times in UTC; the download link comes last, on a line
    /// of its own so it can be copied.
    public func renderText() -> String {
        func time(_ date: Date?) -> String { date?.formatted(.iso8601) ?? "?" }
        var rows = [
            ["status", status],
            ["window", "\(time(rangeStart)) .. \(time(rangeEnd))"],
            ["stream", stream],
            ["tenant", tenantID ?? "all"],
            ["format", format],
            ["requested by", requestedBy + (createdAt.map { " at \(time($0))" } ?? "")],
            ["progress", "\(rowsExported) entries in \(partsExported) parts"],
            ["attempts", String(attempts) + (maxAttempts.map { " of \($0)" } ?? "")],
        ]
        if let finishedAt { rows.append(["finished", time(finishedAt)]) }
        if let objectURL { rows.append(["object", objectURL]) }
        if let bytes { rows.append(["size", "\(bytes) bytes"]) }
        if let sha256 { rows.append(["sha256", sha256]) }
        if let error { rows.append(["error", error]) }
        var lines = ["export job \(id)"] + TextTable.aligned(rows).map { "  " + $0 }
        if let downloadURL {
            lines.append("download link" + (linkExpiresAt.map { " (valid until \(time($0)))" } ?? "") + ":")
            lines.append(downloadURL)
        }
        return lines.joined(separator: "\n")
    }

    /// The jobs as JSON, with sorted keys and ISO-8601 times.
    public static func renderJSON(_ jobs: [ExportJobStatus]) throws -> String {
        try jobs.stableJSON()
    }

    /// The job as JSON, with sorted keys and ISO-8601 times.
    public func renderJSON() throws -> String {
        try stableJSON()
    }
}

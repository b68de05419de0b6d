import Foundation

extension VerifyReport {
    /// The report for a terminal: the sink, a table of days with totals,
    /// and the findings, one a line, errors and warnings first.
    public func renderText() -> String {
        let range = from == nil && to == nil ? "all days" : "days \(from ?? "…") to \(to ?? "…")"
        let header = ["sink \(sink) at \(url), \(range)", ""]
        let table =
            days.isEmpty
            ? ["no pages or objects"]
            : TextTable.aligned(
                [["DAY", "PAGES", "ENTRIES", "STORED PAGES", "STORED ENTRIES", "UNKNOWN OBJECTS", "BACKFILL OBJECTS"]]
                    + days.map { Self.row($0.date, $0.counts) } + [Self.row("total", totals)],
                rightAligned: Set(1...6)
            )
        let verdict =
            succeeded
            ? "ok: \(totals.databasePages) pages and \(totals.databaseEntries) entries verified"
            : "\(problems.count) problem\(problems.count == 1 ? "" : "s")"
        let ordered = problems + findings.filter { $0.severity == .note }
        return (header + table + ["", verdict] + ordered.map(\.description)).joined(separator: "\n")
    }

    /// The report as JSON for scripts: sorted keys, every key always
    /// present (`null` when absent), the days, their totals, whether
    /// verification succeeded, and the findings with their kind and
    /// severity.
    public func renderJSON() throws -> String {
        try JSONForm(self).stableJSON()
    }

    private static func row(_ label: String, _ counts: Counts) -> [String] {
        [
            label, String(counts.databasePages), String(counts.databaseEntries), String(counts.storedPages),
            String(counts.storedEntries), String(counts.unknownObjects), String(counts.backfillObjects),
        ]
    }

    /// The report with its totals and verdict, and `null` for absent bounds.
    private struct JSONForm: Encodable {
        var report: VerifyReport

        init(_ report: VerifyReport) {
            self.report = report
        }

        enum CodingKeys: String, CodingKey {
            case sink, url, from, to, days, totals, findings, succeeded
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(report.sink, forKey: .sink)
            try container.encode(report.url, forKey: .url)
            try container.encode(report.from, forKey: .from)
            try container.encode(report.to, forKey: .to)
            try container.encode(report.days, forKey: .days)
            try container.encode(report.totals, forKey: .totals)
            try container.encode(report.findings, forKey: .findings)
            try container.encode(report.succeeded, forKey: .succeeded)
        }
    }
}

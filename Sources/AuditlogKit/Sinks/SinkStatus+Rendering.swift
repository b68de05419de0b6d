extension SinkStatus {
    /// The sinks as a table for a terminal, one line per sink, URL last.
    ///
    /// `LAG` is ``lagSeconds`` in the two largest units (`45s`, `3m07s`,
    /// `2h05m`, `3d04h`), `-` when unknown.
    public static func renderText(_ sinks: [SinkStatus]) -> String {
        guard !sinks.isEmpty else { return "no sinks" }
        return TextTable.aligned(
            [["SINK", "ENABLED", "LAG", "LAG ENTRIES", "PAGES ACKED", "ENTRIES ACKED", "URL"]]
                + sinks.map {
                    [
                        $0.name, $0.enabled ? "yes" : "no", duration($0.lagSeconds), String($0.lagRows),
                        String($0.pagesAcked), String($0.rowsAcked), $0.url,
                    ]
                },
            rightAligned: [2, 3, 4, 5]
        ).joined(separator: "\n")
    }

    static func duration(_ seconds: Double?) -> String {
        guard let seconds, !seconds.isNaN else { return "-" }
        let whole = Int(min(max(seconds, 0), 1e15))
        func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        switch whole {
        case ..<60: return "\(whole)s"
        case ..<3_600: return "\(whole / 60)m\(twoDigits(whole % 60))s"
        case ..<86_400: return "\(whole / 3_600)h\(twoDigits(whole % 3_600 / 60))m"
        default: return "\(whole / 86_400)d\(twoDigits(whole % 86_400 / 3_600))h"
        }
    }
}

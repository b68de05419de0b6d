import Foundation

/// What an object's key says about it: `<stream>/dt=<day>/<sink>-<page_id>.ndjson.gz`
/// for a sink's page, `<stream>/dt=<day>/<sink>-backfill-<id>-<page_id>.ndjson.gz`
/// for a backfill's.
struct SinkObjectName: Equatable {
    /// Whose the object is.
    enum Owner: Equatable {
        /// One of the sink's own pages, in its chain.
        case page(UUID)
        /// A page of one of the sink's backfills, outside the chain.
        case backfill(id: Int64, page: UUID)
    }

    /// The stream, the key's first segment.
    var stream: String
    /// The UTC day of its `dt=` folder, `YYYY-MM-DD`.
    var day: String
    /// Whose it is.
    var owner: Owner

    /// Reads `key` as the name of an object of `sink`, or returns `nil`
    /// when it names no object of that sink.
    ///
    /// The page id must be a whole UUID, so another sink whose name starts
    /// with this one's (`main-eu` for `main`) is never taken for it.
    init?(key: String, sink: String) {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 3, segments[1].hasPrefix("dt="), UTCDay(String(segments[1].dropFirst(3))) != nil else {
            return nil
        }
        let file = segments[2]
        let suffix = ".ndjson.gz"
        guard file.hasPrefix(sink + "-"), file.hasSuffix(suffix) else { return nil }
        let middle = file.dropFirst(sink.count + 1).dropLast(suffix.count)
        stream = String(segments[0])
        day = String(segments[1].dropFirst(3))
        if let page = UUID(uuidString: String(middle)) {
            owner = .page(page)
            return
        }
        let backfill = "backfill-"
        guard middle.hasPrefix(backfill), middle.count > backfill.count + 37 else { return nil }
        let rest = middle.dropFirst(backfill.count)
        let id = rest.dropLast(37)
        guard rest.dropFirst(id.count).first == "-", id.allSatisfy(\.isASCII), let number = Int64(id),
            let page = UUID(uuidString: String(rest.suffix(36)))
        else { return nil }
        owner = .backfill(id: number, page: page)
    }
}

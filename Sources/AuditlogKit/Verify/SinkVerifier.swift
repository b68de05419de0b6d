import Foundation

/// Proves that a sink's storage holds every page the database says was
/// acknowledged, unedited, chained and without a gap: what
/// `auditlogctl verify` does.
///
/// The database is the reference. For each acknowledged page, in chain
/// order (`acked_at`), read a bounded batch at a time through the index
/// `page_sink_acked`, the verifier checks:
///
/// - the chain: the page's `prev_sha256` is the `sha256` of the page
///   acknowledged just before it, looked up in the database, so a page
///   missing from the database (a gap) or changed breaks the chain. A page
///   with no predecessor recorded starts the chain again; `ack()` records
///   none only after `reanchor_if_foreign()` replaced the sink's state, so
///   the restart is explained when it follows the sink's recorded re-anchor.
///   The database keeps only the latest anchor, so an older restart is a
///   warning.
/// - its object: present, one gzip stream whose body has the recorded
///   SHA-256 and one line per entry; each line JSON with an `id`, the page's
///   `stream` and a `logged_at` on the page's `dt=` day; no entry id in two
///   pages.
///
/// Objects are fetched one at a time, so memory does not grow with their
/// size; the entry ids seen are kept, 16 bytes each in a hash set (about
/// 32 MiB per million entries).
///
/// Then it lists each `<stream>/dt=` folder of those pages and reports the
/// objects named for the sink that no acknowledged page names: the page in
/// flight (a note), and others (a warning), such as pages exported by a
/// cluster that failed over before their acknowledgement reached the new
/// primary, or by the cluster a dump came from (`auditlog.page` is not
/// dumped). Backfill objects are outside the chain: they are only counted.
public struct SinkVerifier: Sendable {
    /// The sink to verify.
    public var sink: String
    /// The first UTC day whose pages are verified; `nil` for no bound.
    public var from: UTCDay?
    /// The last UTC day whose pages are verified; `nil` for no bound.
    public var to: UTCDay?
    /// Pages read from the database in one query.
    public var batchSize: Int
    /// Opens the storage for the sink's URL.
    public var openStorage: @Sendable (String) throws -> any ObjectStorage

    /// Creates a verifier.
    public init(
        sink: String,
        from: UTCDay? = nil,
        to: UTCDay? = nil,
        batchSize: Int = 200,
        openStorage: @escaping @Sendable (String) throws -> any ObjectStorage = StorageURL.storage(for:)
    ) {
        self.sink = sink
        self.from = from
        self.to = to
        self.batchSize = max(1, batchSize)
        self.openStorage = openStorage
    }

    /// Verifies the sink and returns what was found.
    ///
    /// - Throws: ``AuditlogError/noSuchSink(_:)``, ``PostgresError`` when a
    ///   query fails, ``StorageError`` when the storage cannot be opened,
    ///   read or listed. A missing, damaged or unexpected object is a
    ///   finding, not an error.
    public func verify(on connection: PostgresConnection) async throws -> VerifyReport {
        guard
            let definition = try await connection.query(
                """
                SELECT s.url, s.stream, st.anchored_at, st.anchor_reason,
                       (SELECT p.object_key FROM auditlog.page p WHERE p.sink = s.name AND p.acked_at IS NULL) AS in_flight
                FROM auditlog.sink s LEFT JOIN auditlog.sink_state st ON st.sink = s.name
                WHERE s.name = $1
                """, [sink]
            ).rows.first
        else { throw AuditlogError.noSuchSink(sink) }
        let url = try definition.decode(String.self, "url")
        var walk = Walk(
            report: VerifyReport(sink: sink, url: url, from: from?.description, to: to?.description),
            storage: try openStorage(url),
            anchor: try definition.decode(String?.self, "anchor_reason").map {
                (reason: $0, at: try definition.decode(String.self, "anchored_at"))
            }
        )
        // Every stream the sink ever paged, so that the folders of days
        // without an acknowledged page in range are listed too.
        walk.streams = Set(
            try await connection.query("SELECT DISTINCT stream FROM auditlog.page WHERE sink = $1", [sink])
                .rows.map { try $0.decode(String.self, "stream") })
        if let stream = try definition.decode(String?.self, "stream") {
            walk.streams.insert(stream)
        }

        var after: (ackedAt: String, pageID: String)?
        while true {
            let pages = try await connection.query(
                Self.pagesQuery,
                [
                    sink, after?.ackedAt, after?.pageID, from?.description, to?.description, String(batchSize),
                ]
            ).rows.map(Page.init)
            for page in pages {
                try await walk.check(page)
            }
            guard let last = pages.last, pages.count == batchSize else { break }
            after = (last.ackedAt, last.id)
        }
        try await walk.listObjects(inFlight: try definition.decode(String?.self, "in_flight"), from: from, to: to)
        return walk.report
    }

    /// The next batch of acknowledged pages after a key (acked_at, page_id),
    /// each with the page acknowledged just before it, whatever its day, and
    /// whether the sink's recorded anchor falls between the two.
    static let pagesQuery = """
        SELECT p.page_id, p.stream, p.object_key, p.rows, p.sha256, p.prev_sha256, p.acked_at::text AS acked_at,
               to_char(p.first_logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
               prior.page_id AS prior_page_id, prior.sha256 AS prior_sha256,
               st.anchored_at <= p.acked_at AND (prior.acked_at IS NULL OR prior.acked_at < st.anchored_at)
                 AS follows_anchor
        FROM auditlog.page p
        LEFT JOIN auditlog.sink_state st ON st.sink = p.sink
        LEFT JOIN LATERAL (
          SELECT q.page_id, q.sha256, q.acked_at FROM auditlog.page q
          WHERE q.sink = p.sink AND q.acked_at <= p.acked_at AND (q.acked_at, q.page_id) < (p.acked_at, p.page_id)
          ORDER BY q.acked_at DESC, q.page_id DESC LIMIT 1
        ) prior ON true
        WHERE p.sink = $1 AND p.acked_at IS NOT NULL
          AND ($2::timestamptz IS NULL OR (p.acked_at >= $2::timestamptz AND (p.acked_at, p.page_id) > ($2::timestamptz, $3::uuid)))
          AND ($4::date IS NULL OR p.first_logged_at >= $4::date::timestamp AT TIME ZONE 'UTC')
          AND ($5::date IS NULL OR p.first_logged_at < ($5::date + 1)::timestamp AT TIME ZONE 'UTC')
        ORDER BY p.acked_at, p.page_id
        LIMIT $6::int4
        """

    /// An acknowledged page as ``pagesQuery`` returns it.
    struct Page {
        var id: String
        var stream: String
        var objectKey: String
        var rows: Int
        var sha256: String
        var previousSHA256: String?
        var ackedAt: String
        var day: String
        var priorID: String?
        var priorSHA256: String?
        var followsAnchor: Bool

        init(_ row: QueryResult.Row) throws {
            id = try row.decode(String.self, "page_id")
            stream = try row.decode(String.self, "stream")
            objectKey = try row.decode(String.self, "object_key")
            rows = try row.decode(Int.self, "rows")
            sha256 = try row.decode(String.self, "sha256")
            previousSHA256 = try row.decode(String?.self, "prev_sha256")
            ackedAt = try row.decode(String.self, "acked_at")
            day = try row.decode(String.self, "day")
            priorID = try row.decode(String?.self, "prior_page_id")
            priorSHA256 = try row.decode(String?.self, "prior_sha256")
            followsAnchor = try row.decode(Bool?.self, "follows_anchor") ?? false
        }
    }
}

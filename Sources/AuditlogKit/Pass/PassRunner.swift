/// One export pass: what `auditlogctl run` does.
///
/// A pass ticks, times out abandoned pending entries, makes the coming days'
/// partitions, drops expired ones, and then drains each enabled sink: it
/// takes the sink's next page, compresses it, uploads it and only then
/// acknowledges it, until the sink has no page left.
///
/// Several runners may work on one database at once. Each sink is drained
/// by one runner at a time, the one holding the session-level advisory lock
/// `hashtext('auditlog.sink:' || name)`; the others skip it. A page that was
/// uploaded but not acknowledged, because the runner died or the upload or
/// acknowledgement failed, is handed out again unchanged and uploaded again
/// under the same key.
///
/// With an ``exportURL``, the pass then works through the on-demand export
/// jobs (see ``ExportJobWorker``).
///
/// Pages are handled one at a time, so memory use does not grow with the
/// number of entries to export.
public struct PassRunner: Sendable {
    /// How long entries are kept, as a PostgreSQL interval such as
    /// `90 days`: `purge` drops partitions that ended longer ago, unless a
    /// sink still has to export them.
    public var retain: String
    /// The most entries in one page.
    public var maxRows: Int
    /// The sinks to drain; `nil` drains every enabled sink.
    public var sinks: [String]?
    /// Where on-demand export jobs go (`file:///…` or `s3://…`); `nil`
    /// leaves them pending for a pass that has one.
    public var exportURL: String?
    /// How long the download link of a finished export job stays valid, in
    /// seconds, at most 7 days.
    public var linkExpiry: Int
    /// Opens the storage for a sink's URL, or ``exportURL``.
    public var openStorage: @Sendable (String) throws -> any ObjectStorage

    /// Creates a runner.
    public init(
        retain: String = "90 days",
        maxRows: Int = 10_000,
        sinks: [String]? = nil,
        exportURL: String? = nil,
        linkExpiry: Int = 86_400,
        openStorage: @escaping @Sendable (String) throws -> any ObjectStorage = StorageURL.storage(for:)
    ) {
        self.retain = retain
        self.maxRows = maxRows
        self.sinks = sinks
        self.exportURL = exportURL
        self.linkExpiry = linkExpiry
        self.openStorage = openStorage
    }

    /// Runs one pass.
    ///
    /// A step or sink that fails is recorded in the summary's
    /// ``PassSummary/failures`` and the pass goes on with the next one.
    ///
    /// - Parameter connection: A connection outside any transaction block;
    ///   pages are read and acknowledged in statements of their own.
    /// - Throws: ``PostgresError`` of kind ``PostgresError/Kind/connection``
    ///   when the connection is lost, which ends the pass, and
    ///   ``AuditlogError/notOneSession(_:)`` before anything is done when the
    ///   connection goes through a pooler in transaction mode.
    public func run(on connection: PostgresConnection) async throws -> PassSummary {
        try await SessionCheck.require(on: connection)
        var summary = PassSummary()
        _ = try await step("tick", &summary) { try await connection.query("SELECT auditlog.tick()") }
        summary.timedOutEntries = try await count("timeout_pending", &summary) {
            try await connection.query("SELECT auditlog.timeout_pending()")
        }
        summary.partitionsCreated = try await count("ensure_partitions", &summary) {
            try await connection.query("SELECT auditlog.ensure_partitions()")
        }
        summary.partitionsDropped = try await count("purge", &summary) {
            try await connection.query("SELECT auditlog.purge($1::interval)", [retain])
        }
        guard
            let enabled = try await step(
                "list sinks", &summary,
                {
                    try await connection.query("SELECT name, url FROM auditlog.sink WHERE enabled ORDER BY name").rows
                        .map {
                            (name: try $0.decode(String.self, "name"), url: try $0.decode(String.self, "url"))
                        }
                })
        else { return summary }

        for name in sinks ?? [] where !enabled.contains(where: { $0.name == name }) {
            summary.failures.append(.init(step: "sink \(name)", message: "there is no enabled sink of that name"))
        }
        for sink in enabled where sinks?.contains(sink.name) ?? true {
            summary.sinks.append(try await drain(sink.name, url: sink.url, on: connection, failures: &summary.failures))
        }
        guard
            let running = try await step(
                "list backfills", &summary,
                {
                    try await connection.query(
                        "SELECT b.backfill_id, b.sink, s.url FROM auditlog.backfill_status b JOIN auditlog.sink s ON s.name = b.sink"
                            + " WHERE b.status = 'running' ORDER BY b.backfill_id"
                    ).rows.map {
                        (
                            id: try $0.decode(Int64.self, "backfill_id"), sink: try $0.decode(String.self, "sink"),
                            url: try $0.decode(String.self, "url")
                        )
                    }
                })
        else { return summary }
        for backfill in running where sinks?.contains(backfill.sink) ?? true {
            summary.backfills.append(
                try await advance(
                    backfill.id, sink: backfill.sink, url: backfill.url, on: connection,
                    failures: &summary.failures)
            )
        }
        if let exportURL {
            let worker = ExportJobWorker(
                url: exportURL, maxRows: maxRows, linkExpiry: linkExpiry,
                openStorage: openStorage)
            summary.jobs = try await worker.run(on: connection, failures: &summary.failures)
        }
        return summary
    }

    /// Drains one sink while holding its advisory lock.
    private func drain(
        _ name: String,
        url: String,
        on connection: PostgresConnection,
        failures: inout [PassSummary.Failure]
    ) async throws -> PassSummary.SinkResult {
        try await export(
            name, step: "sink \(name)", lock: "auditlog.sink:\(name)", url: url, on: connection,
            failures: &failures
        ) {
            try await Page.next(
                "SELECT page_id, object_key, rows, body FROM auditlog.next_page($1, $2::int4)",
                [name, String(maxRows)], on: connection)
        } acknowledge: { page in
            // false means another runner acknowledged this very page first,
            // after uploading the same bytes under the same key.
            try await connection.query("SELECT auditlog.ack($1, $2::uuid)", [name, page.id])
        }
    }

    /// Advances one backfill while holding its advisory lock, until it is
    /// done or has nothing more for now.
    private func advance(
        _ id: Int64,
        sink: String,
        url: String,
        on connection: PostgresConnection,
        failures: inout [PassSummary.Failure]
    ) async throws -> PassSummary.BackfillResult {
        let result = try await export(
            sink, step: "backfill \(id)", lock: "auditlog.backfill:\(id)", url: url,
            on: connection, failures: &failures
        ) {
            try await Page.next(
                "SELECT page_id, object_key, rows, body FROM auditlog.backfill_next_page($1::int8, $2::int4)",
                [String(id), String(maxRows)], on: connection)
        } acknowledge: { page in
            try await connection.query("SELECT auditlog.backfill_ack($1::int8, $2::uuid)", [String(id), page.id])
        }
        let status = try await connection.query(
            "SELECT status FROM auditlog.backfill_status WHERE backfill_id = $1::int8", [String(id)]
        )
        .rows.first?[0]
        return .init(id: id, export: result, finished: status == "done")
    }

    /// Exports pages one at a time under an advisory lock: takes the next
    /// page, compresses it, stores it, and only then acknowledges it, until
    /// there is none. Another runner holding the lock means `skipped`.
    private func export(
        _ name: String,
        step: String,
        lock: String,
        url: String,
        on connection: PostgresConnection,
        failures: inout [PassSummary.Failure],
        next: () async throws -> Page?,
        acknowledge: (Page) async throws -> Void
    ) async throws -> PassSummary.SinkResult {
        var result = PassSummary.SinkResult(name: name, outcome: .drained)
        do {
            let locked = try await connection.query("SELECT pg_try_advisory_lock(hashtext($1))", [lock])
                .singleRow(of: "pg_try_advisory_lock")[0, as: Bool.self]
            guard locked else {
                result.outcome = .skipped
                return result
            }
            let unlock = { _ = try? await connection.query("SELECT pg_advisory_unlock(hashtext($1))", [lock]) }
            do {
                let storage = try openStorage(url)
                // A cancelled pass (a daemon told to stop) takes no new page;
                // a page stored but not acknowledged is simply handed out
                // again.
                while !Task.isCancelled, let page = try await next() {
                    let object = try Gzip.compress(Array(page.body.utf8))
                    try await storage.put(key: page.objectKey, data: object)
                    try await acknowledge(page)
                    result.pages += 1
                    result.rows += page.rows
                    result.bytes += object.count
                }
            } catch {
                await unlock()
                throw error
            }
            await unlock()
        } catch let error as PostgresError where error.kind == .connection {
            throw error
        } catch {
            result.outcome = .failed
            failures.append(.init(step: step, message: "\(error)"))
        }
        return result
    }

    /// Runs a maintenance function that returns a count, recording a failure
    /// as zero.
    private func count(
        _ name: String,
        _ summary: inout PassSummary,
        _ body: () async throws -> QueryResult
    ) async throws -> Int {
        try await step(name, &summary) { try await body().singleRow(of: name)[0, as: Int.self] } ?? 0
    }

    /// Runs `body`, recording its failure under `name` and returning `nil`
    /// instead, unless the connection is lost.
    private func step<Value>(
        _ name: String,
        _ summary: inout PassSummary,
        _ body: () async throws -> Value
    ) async throws -> Value? {
        do {
            return try await body()
        } catch let error as PostgresError where error.kind == .connection {
            throw error
        } catch {
            summary.failures.append(.init(step: name, message: "\(error)"))
            return nil
        }
    }

    /// A page as `auditlog.next_page` or `auditlog.backfill_next_page`
    /// hands it out.
    private struct Page {
        var id: String
        var objectKey: String
        var rows: Int
        var body: String

        /// The next page `query` hands out, the same one again until it is
        /// acknowledged, or `nil` when there is none.
        static func next(_ query: String, _ parameters: [String?], on connection: PostgresConnection) async throws
            -> Page?
        {
            let result = try await connection.query(query, parameters)
            guard let row = result.rows.first else { return nil }
            return Page(
                id: try row.decode(String.self, "page_id"),
                objectKey: try row.decode(String.self, "object_key"),
                rows: try row.decode(Int.self, "rows"),
                body: try row.decode(String.self, "body")
            )
        }
    }
}

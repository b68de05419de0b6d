import Foundation
import Testing

@testable import AuditlogKit

@Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
struct SinkVerifierTests {
    /// A sink with `count` entries exported in one batch, in pages of at most
    /// 2, and the acknowledged pages in chain order.
    func exportedSink(_ count: Int = 7, on db: PostgresConnection) async throws -> (ScratchSink, [AckedPage]) {
        let sink = try await ScratchSink(on: db)
        _ = try await sink.record(count, on: db)
        let summary = try await sink.runner(maxRows: 2).run(on: db)
        #expect(summary.failures == [])
        return (sink, try await AckedPage.all(of: sink, on: db))
    }

    func verify(_ sink: ScratchSink, on db: PostgresConnection, from: String? = nil, to: String? = nil)
        async throws -> VerifyReport
    {
        try await SinkVerifier(
            sink: sink.name, from: from.flatMap(UTCDay.init), to: to.flatMap(UTCDay.init),
            batchSize: 2
        ).verify(on: db)
    }

    /// Replaces the body of the object under `key`.
    func rewrite(_ sink: ScratchSink, _ key: String, _ edit: (String) -> String) async throws -> String {
        let body = String(decoding: try Gzip.decompress(sink.directory.contents(of: key)), as: UTF8.self)
        let edited = edit(body)
        #expect(edited != body)
        try await FileStorage(root: sink.directory.path).put(key: key, data: Gzip.compress(Array(edited.utf8)))
        return edited
    }

    @Test func exportedPagesCheckOutWithEqualCounts() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let (sink, pages) = try await exportedSink(on: db)
        defer { sink.remove() }

        let report = try await verify(sink, on: db)

        #expect(pages.count == 4)
        #expect(report.findings == [])
        #expect(report.succeeded)
        #expect(
            report.totals
                == .init(
                    databasePages: pages.count, databaseEntries: 7, storedPages: pages.count,
                    storedEntries: 7))
        #expect(report.days.map(\.date) == Array(Set(pages.map(\.day))).sorted())
        // Nothing of a day without pages.
        let none = try await verify(sink, on: db, from: "2001-01-01", to: "2001-01-02")
        #expect(none.days == [] && none.findings == [] && none.succeeded)
        // The range of the pages' days, checked batch by batch with each
        // page's predecessor from the database.
        let day = try #require(pages.first?.day)
        let ranged = try await verify(sink, on: db, from: day, to: day)
        #expect(ranged.succeeded && ranged.totals.databasePages == pages.filter { $0.day == day }.count)
    }

    @Test func anEditedByteIsAnSHA256MismatchOfThatObject() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let (sink, pages) = try await exportedSink(on: db)
        defer { sink.remove() }
        let page = pages[1]
        // The edit keeps every line a valid entry of its day and stream:
        // only the SHA-256 can tell.
        _ = try await rewrite(sink, page.key) {
            $0.replacingOccurrences(of: sink.operationPrefix, with: "swifttest.XXXXXXXX.")
        }

        let report = try await verify(sink, on: db)

        #expect(report.problems.map(\.kind) == [.sha256Mismatch])
        #expect(report.problems.first?.objectKey == page.key && report.problems.first?.pageID == page.id)
        #expect(!report.succeeded)
    }

    @Test func aDeletedObjectIsMissing() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let (sink, pages) = try await exportedSink(on: db)
        defer { sink.remove() }
        try FileManager.default.removeItem(atPath: sink.directory.path + "/" + pages[2].key)

        let report = try await verify(sink, on: db)

        #expect(report.problems.map(\.kind) == [.missingObject])
        #expect(report.problems.first?.objectKey == pages[2].key)
        #expect(report.totals.storedPages == pages.count - 1 && report.totals.storedEntries == 7 - pages[2].rows)
    }

    @Test func aCopyUnderANewPageNameIsAnUnknownObject() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let (sink, pages) = try await exportedSink(on: db)
        defer { sink.remove() }
        let copy = "audit/dt=\(pages[0].day)/\(sink.name)-\(UUID().uuidString.lowercased()).ndjson.gz"
        try await FileStorage(root: sink.directory.path).put(key: copy, data: sink.directory.contents(of: pages[0].key))
        // Not the sink's: another sink's name, and no page id.
        try await FileStorage(root: sink.directory.path).put(
            key: "audit/dt=\(pages[0].day)/\(sink.name)x-\(UUID()).ndjson.gz", data: [1])
        try await FileStorage(root: sink.directory.path).put(
            key: "audit/dt=\(pages[0].day)/\(sink.name)-notes.ndjson.gz", data: [1])

        let report = try await verify(sink, on: db)

        #expect(report.problems.map(\.kind) == [.unknownObject])
        #expect(report.problems.first?.objectKey == copy && report.problems.first?.severity == .warning)
        #expect(report.totals.unknownObjects == 1 && !report.succeeded)
    }

    @Test func aLineOfAnotherDayIsReported() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let (sink, pages) = try await exportedSink(on: db)
        defer { sink.remove() }
        let last = try #require(pages.last)
        // The last page, so that no later page's chain link names its hash:
        // record the edited body's hash, and only the day is wrong.
        let edited = try await rewrite(sink, last.key) {
            $0.replacingOccurrences(of: "\"\(last.day)T", with: "\"2001-02-03T")
        }
        try await db.query(
            "UPDATE auditlog.page SET sha256 = $2 WHERE page_id = $1::uuid",
            [last.id, SigV4.hexSHA256(Array(edited.utf8))])

        let report = try await verify(sink, on: db)

        #expect(report.problems.map(\.kind) == [.wrongDay])
        #expect(report.problems.first?.objectKey == last.key)
        #expect(report.problems.first?.message.contains("2001-02-03T") == true)
    }

    @Test func anEntryInTwoPagesIsADuplicate() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let (sink, pages) = try await exportedSink(on: db)
        defer { sink.remove() }
        let last = try #require(pages.last)
        let first = String(decoding: try Gzip.decompress(sink.directory.contents(of: pages[0].key)), as: UTF8.self)
        let firstLine = String(first.split(separator: "\n")[0])
        let edited = try await rewrite(sink, last.key) { $0 + firstLine + "\n" }
        try await db.query(
            "UPDATE auditlog.page SET sha256 = $2, rows = rows + 1 WHERE page_id = $1::uuid",
            [last.id, SigV4.hexSHA256(Array(edited.utf8))])

        let report = try await verify(sink, on: db)

        #expect(report.problems.map(\.kind) == [.duplicateEntry])
        #expect(report.problems.first?.objectKey == last.key)
    }

    @Test func aPageMissingFromTheDatabaseBreaksTheChain() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let (sink, pages) = try await exportedSink(on: db)
        defer { sink.remove() }
        try await db.query("DELETE FROM auditlog.page WHERE page_id = $1::uuid", [pages[1].id])

        let report = try await verify(sink, on: db)

        #expect(report.problems.map(\.kind) == [.chainBroken, .unknownObject])
        #expect(report.problems.map(\.objectKey) == [pages[2].key, pages[1].key])
        // Verified from the day of the page after the gap, the chain is
        // still checked against the page before it in the database.
        let ranged = try await verify(sink, on: db, from: pages[2].day)
        #expect(ranged.problems.map(\.kind) == [.chainBroken, .unknownObject])
    }

    @Test func aChainRestartIsExplainedOnlyByARecordedReanchor() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let (sink, pages) = try await exportedSink(on: db)
        defer { sink.remove() }
        // The export state lost, as after a restore from a dump: the next
        // page re-anchors the sink and starts the chain again.
        // (Entries logged before the re-anchor would be exported only by a
        // backfill: re-anchor first.)
        try await db.query("DELETE FROM auditlog.sink_state WHERE sink = $1", [sink.name])
        #expect(try await sink.runner(maxRows: 2).run(on: db).failures == [])
        _ = try await sink.record(3, on: db)
        #expect(try await sink.runner(maxRows: 2).run(on: db).failures == [])
        let after = try await AckedPage.all(of: sink, on: db)
        try #require(after.count == pages.count + 2)

        let report = try await verify(sink, on: db)

        #expect(report.succeeded)
        #expect(report.findings.map(\.kind) == [.chainRestart])
        #expect(report.findings.first?.pageID == after[pages.count].id)
        #expect(report.findings.first?.message.contains("re-anchored: restored from a dump") == true)
        #expect(report.totals.databaseEntries == 10 && report.totals.storedEntries == 10)

        // A restart the recorded anchor does not explain.
        try await db.query("UPDATE auditlog.page SET prev_sha256 = NULL WHERE page_id = $1::uuid", [pages[2].id])
        let unexplained = try await verify(sink, on: db)
        #expect(unexplained.problems.map(\.kind) == [.unexplainedChainRestart])
        #expect(unexplained.problems.first?.pageID == pages[2].id)
    }

    @Test func thePageInFlightIsANoteAndBackfillObjectsAreCounted() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let (sink, pages) = try await exportedSink(on: db)
        defer { sink.remove() }
        _ = try await sink.record(1, on: db)
        let inFlight = try await db.query("SELECT object_key, body FROM auditlog.next_page($1, 10)", [sink.name])
            .singleRow(of: "auditlog.next_page")
        let key = try inFlight[0, as: String.self]
        let storage = FileStorage(root: sink.directory.path)
        try await storage.put(key: key, data: Gzip.compress(Array(inFlight[1, as: String.self].utf8)))
        try await storage.put(key: "audit/dt=\(pages[0].day)/\(sink.name)-backfill-12-\(UUID()).ndjson.gz", data: [1])

        let report = try await verify(sink, on: db)

        #expect(report.succeeded)
        #expect(report.findings.map(\.kind) == [.pageInFlight])
        #expect(report.findings.first?.objectKey == key)
        #expect(report.totals.backfillObjects == 1 && report.totals.databasePages == pages.count)
    }

    @Test func anUnknownSinkIsAnError() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        await #expect(throws: AuditlogError.noSuchSink("swift-test-none")) {
            try await SinkVerifier(sink: "swift-test-none").verify(on: db)
        }
    }
}

/// An acknowledged page as the tests need it.
struct AckedPage {
    var id: String
    var key: String
    var day: String
    var rows: Int

    /// The sink's acknowledged pages in chain order.
    static func all(of sink: ScratchSink, on db: PostgresConnection) async throws -> [AckedPage] {
        try await db.query(
            """
            SELECT page_id, object_key, to_char(first_logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), rows
            FROM auditlog.page WHERE sink = $1 AND acked_at IS NOT NULL ORDER BY acked_at, page_id
            """, [sink.name]
        ).rows.map {
            AckedPage(
                id: try $0[0, as: String.self], key: try $0[1, as: String.self], day: try $0[2, as: String.self],
                rows: try $0[3, as: Int.self])
        }
    }
}

import AuditlogKit
import Foundation
import Testing

@Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
struct PassRunnerTests {
    @Test func exportsEachEntryOnceAndThenNothing() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let sink = try await ScratchSink(on: db)
        defer { sink.remove() }
        let ids = try await sink.record(5, on: db)

        let summary = try await sink.runner(maxRows: 2).run(on: db)

        #expect(summary.failures == [])
        let result = try #require(summary.sinks.first)
        #expect(summary.sinks.count == 1)
        #expect(result.name == sink.name && result.outcome == .drained)
        // One batch (the pass's tick), in pages of at most 2.
        #expect(result.pages == 3 && result.rows == 5)
        let keys = try await sink.ackedObjectKeys(on: db)
        #expect(try sink.directory.files() == keys)
        #expect(result.bytes == (try keys.map { try sink.directory.contents(of: $0).count }.reduce(0, +)))
        for key in keys {
            #expect(
                key.wholeMatch(of: /audit\/dt=\d{4}-\d{2}-\d{2}\/swift-test-[0-9a-f]{8}-[0-9a-f-]{36}\.ndjson\.gz/)
                    != nil)
        }
        #expect(try sink.exportedIDs().sorted() == ids.sorted())

        let again = try await sink.runner(maxRows: 2).run(on: db)

        #expect(again.failures == [])
        #expect(again.sinks == [.init(name: sink.name, outcome: .drained)])
        #expect(try sink.directory.files() == keys)
    }

    /// A backfill of the window the entries were written in: exported by the
    /// pass under keys of its own, each entry once, besides the sink's own
    /// pages, and done.
    @Test func exportsABackfillUnderKeysOfItsOwn() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let sink = try await ScratchSink(on: db)
        defer { sink.remove() }
        try await db.query("SELECT auditlog.ensure_partitions()")
        let from = try await db.query("SELECT clock_timestamp()::text").singleRow(of: "clock_timestamp")[
            0, as: String.self]
        let ids = try await sink.record(3, on: db)
        // Other tests' open transactions, in any database of the cluster,
        // hold the settled horizon back: tick until it has passed these
        // entries.
        var to = ""
        for _ in 0..<100 {
            try await db.query("SELECT auditlog.tick()")
            let horizon = try await db.query(
                """
                SELECT auditlog.settled_horizon()::text,
                       auditlog.settled_horizon() > (SELECT max(logged_at) FROM auditlog.entry WHERE id = ANY ($1::uuid[]))
                """, ["{\(ids.joined(separator: ","))}"]
            ).singleRow(of: "settled_horizon")
            to = try horizon[0, as: String.self]
            if try horizon[1, as: Bool.self] { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let id = try await BackfillStatus.start(sink: sink.name, from: from, to: to, on: db)

        let summary = try await sink.runner(maxRows: 2).run(on: db)

        #expect(summary.failures == [])
        #expect(summary.backfills.map(\.id) == [id])
        let backfill = try #require(summary.backfills.first)
        // Chunks of 2 entries and of 1, a page each; so too the sink's own.
        #expect(backfill.finished && backfill.export.rows == 3 && backfill.export.pages == 2)
        #expect(summary.sinks.first?.pages == 2)
        let backfillFiles = try sink.directory.files().filter { $0.contains("-backfill-\(id)-") }
        #expect(backfillFiles.count == 2)
        #expect(try sink.exportedIDs(in: backfillFiles).sorted() == ids.sorted())
        let keys = try await sink.ackedObjectKeys(on: db)
        #expect(try sink.directory.files() == (backfillFiles + keys).sorted())
        #expect(try sink.exportedIDs(in: keys).sorted() == ids.sorted())
        #expect(try await BackfillStatus.fetchAll(from: db).map(\.status) == ["done"])
    }

    /// A runner that died after uploading a page and before acknowledging
    /// it: the next pass uploads the same page under the same key again,
    /// replacing whatever is there, and acknowledges it.
    @Test func uploadsAnUnacknowledgedPageAgainUnderTheSameKey() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let sink = try await ScratchSink(on: db)
        defer { sink.remove() }
        let ids = try await sink.record(3, on: db)
        let page = try await db.query("SELECT object_key, body FROM auditlog.next_page($1, 10)", [sink.name])
            .singleRow(of: "auditlog.next_page")
        let key = try page[0, as: String.self]
        try await FileStorage(root: sink.directory.path).put(key: key, data: Array("stale".utf8))

        let summary = try await sink.runner(maxRows: 10).run(on: db)

        // The pinned page held all three entries: nothing came after it.
        #expect(summary.failures == [])
        #expect(summary.sinks.first?.pages == 1 && summary.sinks.first?.rows == 3)
        await #expect(try sink.ackedObjectKeys(on: db) == [key])
        #expect(try sink.directory.files() == [key])
        #expect(try sink.directory.contents(of: key) == Gzip.compress(Array(page[1, as: String.self].utf8)))
        #expect(try sink.exportedIDs().sorted() == ids.sorted())
    }

    @Test func twoRunnersAtOnceNeverUploadAnEntryTwice() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let sink = try await ScratchSink(on: db)
        defer { sink.remove() }
        let ids = try await sink.record(60, on: db)
        let uploads = UploadLog()
        let runner = PassRunner(retain: "100 years", maxRows: 3, sinks: [sink.name]) { url in
            InterceptingStorage(base: try StorageURL.storage(for: url)) { await uploads.append($0) }
        }

        async let first = runner.run(on: database.connect())
        async let second = runner.run(on: database.connect())
        let summaries = try await [first, second]

        #expect(summaries.flatMap(\.failures) == [])
        let results = summaries.flatMap(\.sinks)
        // One batch: whichever runner ticks, every entry is in by then.
        #expect(results.map(\.rows).reduce(0, +) == 60 && results.map(\.pages).reduce(0, +) == 20)
        #expect(results.contains { $0.outcome == .drained })
        let keys = await uploads.keys
        #expect(Set(keys).count == keys.count)
        await #expect(keys.sorted() == (try sink.ackedObjectKeys(on: db)))
        #expect(results.map(\.pages).reduce(0, +) == keys.count)
        #expect(try sink.exportedIDs().sorted() == ids.sorted())
    }

    @Test func skipsASinkThatAnotherRunnerIsDraining() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let sink = try await ScratchSink(on: db)
        defer { sink.remove() }
        _ = try await sink.record(1, on: db)
        let other = try await database.connect()
        try await other.query("SELECT pg_advisory_lock(hashtext('auditlog.sink:' || $1))", [sink.name])

        let skipped = try await sink.runner().run(on: db)

        #expect(skipped.sinks == [.init(name: sink.name, outcome: .skipped)])
        #expect(skipped.failures == [])
        #expect(try sink.directory.files() == [])

        try await other.query("SELECT pg_advisory_unlock(hashtext('auditlog.sink:' || $1))", [sink.name])
        let drained = try await sink.runner().run(on: db)

        #expect(drained.sinks.first?.rows == 1)
    }

    @Test func aFailingSinkDoesNotStopTheOthers() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let broken = try await ScratchSink(on: db)
        defer { broken.remove() }
        let working = try await ScratchSink(on: db)
        defer { working.remove() }
        let brokenIDs = try await broken.record(2, on: db)
        let workingIDs = try await working.record(2, on: db)
        let brokenURL = broken.url
        let runner = PassRunner(retain: "100 years", sinks: [broken.name, working.name, "swift-test-missing"]) { url in
            guard url != brokenURL else { throw StorageError.schemeNotSupportedYet("broken") }
            return try StorageURL.storage(for: url)
        }

        let summary = try await runner.run(on: db)

        #expect(Set(summary.failures.map(\.step)) == ["sink \(broken.name)", "sink swift-test-missing"])
        #expect(
            summary.failures.contains {
                $0.message == "broken:// storage is not supported yet by this build of auditlogctl"
            })
        #expect(summary.sinks.first { $0.name == broken.name }?.outcome == .failed)
        #expect(summary.sinks.first { $0.name == working.name }?.outcome == .drained)
        #expect(try working.exportedIDs().sorted() == workingIDs.sorted())
        #expect(try broken.directory.files() == [])

        _ = try await broken.runner().run(on: db)

        #expect(try broken.exportedIDs().sorted() == brokenIDs.sorted())
    }
}

/// The keys of every upload, in order.
private actor UploadLog {
    private(set) var keys: [String] = []

    func append(_ key: String) {
        keys.append(key)
    }
}

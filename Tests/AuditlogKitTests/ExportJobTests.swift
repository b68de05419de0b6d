import AuditlogKit
import Foundation
import Testing

/// On-demand export jobs, exported by a pass with an export URL. (A pass
/// claims every claimable job of its database: each test has a database of
/// its own.)
@Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
struct ExportJobTests {
    @Test func exportsAJobToOneGzipFileAndRemovesTheParts() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let scratch = try ScratchExportJob()
        defer { scratch.remove() }
        let (id, ids) = try await scratch.requestJob(on: db) {
            try await scratch.record(actorIDs: (0..<7).map { "alice-\($0)" }, on: db)
        }

        let summary = try await scratch.runner(maxRows: 2).run(on: db)

        #expect(summary.failures == [])
        #expect(summary.jobs.map(\.id) == [id])
        let result = try #require(summary.jobs.first)
        #expect(result.outcome == .finished && result.parts == 4 && result.rows == 7)
        let status = try await ExportJobStatus.fetch(id, from: db)
        #expect(status.status == "done" && status.rowsExported == 7 && status.partsExported == 4)
        let file = try scratch.relativePath(of: status.objectURL)
        #expect(
            file.wholeMatch(
                of: /exports\/job-\d+\/t[0-9a-f]{8}_\d{4}-\d\d-\d\dT\d{6}Z_\d{4}-\d\d-\d\dT\d{6}Z\.ndjson\.gz/) != nil)
        // The staging parts are gone: the object is the only file.
        #expect(try scratch.directory.files() == [file])
        let contents = try scratch.directory.contents(of: file)
        #expect(status.bytes == Int64(contents.count) && result.bytes == contents.count)
        #expect(status.sha256 == SigV4.hexSHA256(contents))
        #expect(status.downloadURL == status.objectURL && status.linkExpiresAt == nil)
        let exported = try scratch.exportedIDs(inGzip: file)
        let ordered = try await scratch.orderedIDs(on: db)
        #expect(exported == ids && exported == ordered)
    }

    /// A worker needs only `auditlog_admin`: every table it reads is granted.
    @Test func aWorkerNeedsOnlyTheAdminRole() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let scratch = try ScratchExportJob()
        let admin = try await ScratchRole(in: "auditlog_admin", for: database)
        defer {
            scratch.remove()
            admin.remove()
        }
        let (id, ids) = try await scratch.requestJob(on: db) {
            try await scratch.record(actorIDs: (0..<5).map { "bob-\($0)" }, on: db)
        }
        let worker = try await PostgresConnection(conninfo: admin.conninfo)

        let summary = try await scratch.runner(maxRows: 2).run(on: worker)

        #expect(summary.failures == [])
        #expect(summary.jobs.map(\.id) == [id] && summary.jobs.first?.outcome == .finished)
        let status = try await ExportJobStatus.fetch(id, from: db)
        #expect(try scratch.exportedIDs(inGzip: scratch.relativePath(of: status.objectURL)) == ids)
    }

    @Test func exportsACSVWithOneHeaderAndNeutralisedFormulas() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let scratch = try ScratchExportJob()
        defer { scratch.remove() }
        let actors = ["=1+2", "+cmd", "-2", "@SUM(A1)", "plain, \"quoted\"", nil]
        let (id, ids) = try await scratch.requestJob(format: "csv", tenantID: "ac/me", on: db) {
            try await scratch.record(actorIDs: actors, tenantID: "ac/me", on: db)
        }

        let summary = try await scratch.runner(maxRows: 2).run(on: db)

        #expect(summary.failures == [])
        #expect(summary.jobs.map(\.id) == [id] && summary.jobs.first?.outcome == .finished)
        let status = try await ExportJobStatus.fetch(id, from: db)
        let file = try scratch.relativePath(of: status.objectURL)
        // The tenant's '/' cannot be part of a name.
        #expect(file.hasSuffix("_ac-me.csv"))
        #expect(try scratch.directory.files() == [file])
        let header = try await db.query("SELECT auditlog.csv_header()").singleRow(of: "csv_header")[0, as: String.self]
        let rows = try Python.run(
            """
            import csv, json, sys
            print(json.dumps(list(csv.reader(open(sys.stdin.read(), newline='')))))
            """, input: scratch.directory.path + "/" + file)
        let table = try JSONDecoder().decode([[String]].self, from: Data(rows.utf8))
        #expect(table.first == header.split(separator: ",").map(String.init))
        #expect(table.count == 1 + actors.count)
        #expect(table.dropFirst().map(\.[0]) == ids)
        let actorColumn = try #require(table.first?.firstIndex(of: "actor_id"))
        #expect(
            table.dropFirst().map(\.[actorColumn]) == ["'=1+2", "'+cmd", "'-2", "'@SUM(A1)", "plain, \"quoted\"", ""])
        #expect(status.sha256 == SigV4.hexSHA256(try scratch.directory.contents(of: file)))
    }

    /// The storage fails on the third part: the job is reported failed and
    /// pending again with the two stored parts acknowledged, and the next
    /// pass finishes it with every entry once.
    @Test func aFailedJobIsRetriedFromItsLastStoredPart() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let scratch = try ScratchExportJob()
        defer { scratch.remove() }
        let (id, ids) = try await scratch.requestJob(on: db) {
            try await scratch.record(actorIDs: (0..<5).map { "bob-\($0)" }, on: db)
        }
        let puts = CallCounter()
        let failing = scratch.runner(maxRows: 1) { url in
            InterceptingStorage(base: try StorageURL.storage(for: url)) { _ in
                if await puts.next() >= 3 {
                    throw StorageError.fileSystem(operation: "write", path: "part", reason: "disk full")
                }
            }
        }

        let failed = try await failing.run(on: db)

        #expect(failed.jobs.map(\.id) == [id] && failed.jobs.first?.outcome == .failed(willRetry: true))
        #expect(failed.failures == [.init(step: "export job \(id)", message: "could not write part: disk full")])
        var status = try await ExportJobStatus.fetch(id, from: db)
        #expect(status.status == "pending" && status.attempts == 1 && status.error == "could not write part: disk full")
        #expect(status.partsExported == 2 && status.rowsExported == 2)
        let staged = try scratch.directory.files()
        #expect(staged.count == 2 && staged.allSatisfy { $0.hasPrefix("exports/job-\(id)/parts/") })

        let retried = try await scratch.runner(maxRows: 1).run(on: db)

        #expect(retried.failures == [])
        #expect(
            retried.jobs == [
                .init(
                    id: id, outcome: .finished, parts: 3, rows: 3,
                    bytes: Int(try await #require(ExportJobStatus.fetch(id, from: db).bytes)))
            ])
        status = try await ExportJobStatus.fetch(id, from: db)
        #expect(status.status == "done" && status.attempts == 2 && status.rowsExported == 5 && status.error == nil)
        let file = try scratch.relativePath(of: status.objectURL)
        #expect(try scratch.directory.files() == [file])
        #expect(try scratch.exportedIDs(inGzip: file) == ids)
    }

    /// A job cancelled, or taken over by another worker after its lease
    /// expired, between two pages: the worker stops without finishing it,
    /// and it is no failure of the pass.
    @Test(arguments: [false, true])
    func aWorkerThatLostItsJobStops(takenOver: Bool) async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let scratch = try ScratchExportJob()
        defer { scratch.remove() }
        let (id, _) = try await scratch.requestJob(on: db) {
            try await scratch.record(actorIDs: (0..<4).map { "carol-\($0)" }, on: db)
        }
        let puts = CallCounter()
        let runner = scratch.runner(maxRows: 1) { url in
            InterceptingStorage(base: try StorageURL.storage(for: url)) { _ in
                guard await puts.next() == 2 else { return }
                let other = try await database.connect()
                if takenOver {
                    try await other.query(
                        "UPDATE auditlog.export_job SET lease_expires_at = now() - interval '1 second' WHERE job_id = $1::int8",
                        [String(id)])
                    let thief = try await other.query("SELECT job_id FROM auditlog.claim_export('swift-test-thief')")
                    #expect(thief.rows.first?[0] == String(id))
                } else {
                    #expect(try await ExportJobStatus.cancel(id, on: other))
                }
            }
        }

        let summary = try await runner.run(on: db)

        #expect(summary.failures == [])
        #expect(
            summary.jobs == [
                .init(id: id, outcome: .abandoned, parts: 1, rows: 1, bytes: summary.jobs.first?.bytes ?? -1)
            ])
        #expect(await puts.count == 2)
        let status = try await ExportJobStatus.fetch(id, from: db)
        #expect(status.status == (takenOver ? "running" : "cancelled"))
        #expect(status.partsExported == 1 && status.objectURL == nil && status.downloadURL == nil)
        // Nothing was composed: only staged parts are there.
        let files = try scratch.directory.files()
        #expect(!files.isEmpty && files.allSatisfy { $0.hasPrefix("exports/job-\(id)/parts/") })
    }

    /// A job cancelled once its last page is acknowledged: the worker learns
    /// it while composing (it extends its lease after each part) and stops,
    /// leaving no object.
    @Test func aWorkerThatLostItsJobWhileComposingStops() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let scratch = try ScratchExportJob()
        defer { scratch.remove() }
        let (id, _) = try await scratch.requestJob(on: db) {
            try await scratch.record(actorIDs: (0..<3).map { "frank-\($0)" }, on: db)
        }
        let runner = scratch.runner(maxRows: 1) { url in
            InterceptingStorage(
                base: try StorageURL.storage(for: url),
                beforeConcatenate: { () async throws in
                    let cancelled = try await ExportJobStatus.cancel(id, on: database.connect())
                    #expect(cancelled)
                }, beforePut: { _ in })
        }

        let summary = try await runner.run(on: db)

        #expect(summary.failures == [])
        #expect(summary.jobs.map(\.id) == [id] && summary.jobs.first?.outcome == .abandoned)
        let status = try await ExportJobStatus.fetch(id, from: db)
        #expect(status.status == "cancelled" && status.partsExported == 3 && status.objectURL == nil)
        let files = try scratch.directory.files()
        #expect(files.count == 3 && files.allSatisfy { $0.hasPrefix("exports/job-\(id)/parts/") })
    }

    /// A window without entries: one empty part, an empty gzip stream.
    @Test func exportsAnEmptyWindow() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let scratch = try ScratchExportJob()
        defer { scratch.remove() }
        let (id, _) = try await scratch.requestJob(on: db) { [] }

        let summary = try await scratch.runner(maxRows: 2).run(on: db)

        #expect(summary.failures == [])
        #expect(summary.jobs.map(\.id) == [id] && summary.jobs.first?.outcome == .finished)
        let status = try await ExportJobStatus.fetch(id, from: db)
        let file = try scratch.relativePath(of: status.objectURL)
        #expect(try scratch.directory.files() == [file])
        #expect(try Gzip.decompress(scratch.directory.contents(of: file)) == [])
        #expect(status.status == "done" && status.partsExported == 1 && status.rowsExported == 0)
    }

    /// An export URL whose storage cannot be opened (s3:// without
    /// credentials, say) fails the pass before any job is claimed, so no
    /// attempt is used up.
    @Test func anExportURLThatCannotBeOpenedClaimsNoJob() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let scratch = try ScratchExportJob()
        defer { scratch.remove() }
        let (id, _) = try await scratch.requestJob(on: db) { try await scratch.record(actorIDs: ["erin"], on: db) }
        let runner = scratch.runner(maxRows: 2, url: "s3://auditlog-nowhere/exports") {
            try StorageURL.storage(for: $0, environment: [:])
        }

        let summary = try await runner.run(on: db)

        #expect(summary.jobs == [])
        #expect(summary.failures == [.init(step: "export jobs", message: "\(StorageError.missingCredentials)")])
        let status = try await ExportJobStatus.fetch(id, from: db)
        #expect(status.status == "pending" && status.attempts == 0)
    }

    @Test func aPassWithoutAnExportURLLeavesJobsPending() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let scratch = try ScratchExportJob()
        defer { scratch.remove() }
        let (id, _) = try await scratch.requestJob(on: db) { try await scratch.record(actorIDs: ["dave"], on: db) }

        let summary = try await PassRunner(retain: "100 years", sinks: []).run(on: db)

        #expect(summary.failures == [] && summary.jobs == [])
        #expect(try await ExportJobStatus.fetch(id, from: db).status == "pending")
    }
}

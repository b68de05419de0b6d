import AuditlogKit
import Foundation
import Testing

/// `auditlogctl run` when storage fails: a missing bucket, a server
/// answering 500, a runner killed in the middle of an upload. Each time the
/// failure is one line and a non-zero exit, nothing is acknowledged that was
/// not stored, and the next run exports every entry exactly once.
@Suite(
    .enabled(
        if: MotoBucket.endpoint != nil && TestDatabase.plain != nil,
        "set AUDITLOG_TEST_S3_ENDPOINT and AUDITLOG_TEST_DATABASE to run"
    ))
struct ExportFailureTests {
    /// A database of its own with a sink to `s3://<bucket>/log`, its
    /// entries and its pages.
    struct S3Sink {
        let database: ScratchDatabase
        let db: PostgresConnection
        let bucket = MotoBucket()
        let name = "swift-fail"
        let ids: [String]

        init(entries: Int) async throws {
            database = try await ScratchDatabase()
            do {
                db = try await database.connect()
                try await SinkDefinition(name: name, url: "s3://\(bucket.name)/log").create(on: db)
                var recorded: [String] = []
                for index in 0..<entries {
                    recorded.append(
                        try await db.query("SELECT auditlog.record(operation => $1)", ["failtest.\(index)"])
                            .singleRow(of: "auditlog.record")[0, as: String.self])
                }
                ids = recorded
            } catch {
                database.drop()
                throw error
            }
        }

        /// The arguments of `auditlogctl run` for this sink alone.
        func run(maxRows: Int = 2) -> [String] {
            [
                "run", "--database", database.conninfo, "--sink", name, "--retain", "100 years", "--max-rows",
                String(maxRows),
            ]
        }

        /// How many of the sink's pages are acknowledged, and whether one is
        /// in flight.
        func pages() async throws -> (acked: Int, inFlight: Bool) {
            let row = try await db.query(
                """
                SELECT count(*) FILTER (WHERE acked_at IS NOT NULL), count(*) FILTER (WHERE acked_at IS NULL) > 0
                FROM auditlog.page WHERE sink = $1
                """, [name]
            ).singleRow(of: "pages")
            return (try row[0, as: Int.self], try row[1, as: Bool.self])
        }

        /// Each entry is in the bucket exactly once, in as many objects as
        /// pages were acknowledged: pages of 2 of the one batch that the
        /// first run's tick cut.
        func expectEachEntryExportedOnce() async throws {
            let objects = try bucket.exportedIDs()
            let acked = try await pages().acked
            #expect(objects.flatMap(\.ids).sorted() == ids.sorted())
            #expect(objects.count == (ids.count + 1) / 2)
            #expect(objects.count == acked)
        }

        /// Drops the database.
        func remove() {
            database.drop()
        }
    }

    @Test func aMissingBucketFailsTheSinkUntilItExists() async throws {
        let sink = try await S3Sink(entries: 3)
        defer { sink.remove() }
        let environment = MotoBucket.environment(endpoint: MotoBucket.endpoint!)

        let failed = try AuditlogCtlProcess.run(sink.run(), environment: environment)

        #expect(failed.status == 1)
        let lines = failed.errorLines.filter { $0.contains(sink.name) }
        #expect(lines.count == 1 && lines.first?.contains("NoSuchBucket") == true, "\(failed.stderr)")
        await #expect(try sink.pages().acked == 0)

        try sink.bucket.create()
        let succeeded = try AuditlogCtlProcess.run(sink.run(), environment: environment)

        #expect(succeeded.status == 0, "\(succeeded.stderr)")
        try await sink.expectEachEntryExportedOnce()
    }

    /// The first five requests fail (as many as a request's attempts), then
    /// every third: the first run gives up on the sink, the second gets
    /// through by retrying.
    @Test func serverErrorsFailARunAndTheNextRecovers() async throws {
        let sink = try await S3Sink(entries: 7)
        defer { sink.remove() }
        try sink.bucket.create()
        let proxy = try FaultyS3Proxy(upstream: MotoBucket.endpoint!, faults: .init(failFirst: 5, failEvery: 3))
        defer { proxy.stop() }
        let environment = MotoBucket.environment(endpoint: proxy.endpoint)

        let failed = try AuditlogCtlProcess.run(sink.run(), environment: environment)

        #expect(failed.status == 1)
        let lines = failed.errorLines.filter { $0.contains(sink.name) }
        #expect(lines.count == 1 && lines.first?.contains("HTTP 500") == true, "\(failed.stderr)")
        #expect(lines.first?.contains("after 5 attempts") == true)
        await #expect(try sink.pages() == (0, true))

        let recovered = try AuditlogCtlProcess.run(sink.run(), environment: environment)

        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(try proxy.state().failed > 5, "the second run met failures too")
        try await sink.expectEachEntryExportedOnce()
    }

    /// SIGKILL while the third upload is on the wire: two pages are
    /// acknowledged, the third is in flight and not stored; the next run
    /// (the dead runner's lock went with its connection) stores it under its
    /// key and goes on, each entry once.
    @Test func aRunnerKilledMidUploadLosesAndDuplicatesNothing() async throws {
        let sink = try await S3Sink(entries: 10)
        defer { sink.remove() }
        try sink.bucket.create()
        let proxy = try FaultyS3Proxy(upstream: MotoBucket.endpoint!, faults: .init(hangPut: 3))
        defer { proxy.stop() }
        let environment = MotoBucket.environment(endpoint: proxy.endpoint)

        let runner = try AuditlogCtlProcess(sink.run(), environment: environment)
        for _ in 0..<600 where !(try proxy.state().hanging) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try proxy.state().hanging)
        kill(runner.pid, SIGKILL)
        #expect(runner.wait().status == SIGKILL)

        await #expect(try sink.pages() == (2, true))
        #expect(try sink.bucket.exportedIDs().count == 2)

        let rerun = try AuditlogCtlProcess.run(
            sink.run(), environment: MotoBucket.environment(endpoint: MotoBucket.endpoint!))

        #expect(rerun.status == 0, "\(rerun.stderr)")
        await #expect(try sink.pages().inFlight == false)
        try await sink.expectEachEntryExportedOnce()
    }
}

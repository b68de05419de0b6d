import AuditlogKit
import Foundation
import Testing

/// The whole way to an S3-compatible store: a pass exports a sink's entries
/// to `s3://bucket/prefix`, and an independent client (boto3) finds each of
/// them there exactly once, under the page keys the extension chose.
@Suite(
    .enabled(
        if: MotoBucket.endpoint != nil && TestDatabase.plain != nil,
        "set AUDITLOG_TEST_S3_ENDPOINT and AUDITLOG_TEST_DATABASE to run"
    ))
struct S3ExportTests {
    @Test func aPassExportsEachEntryOnceToS3() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let bucket = MotoBucket()
        let name = "swift-s3"
        try await SinkDefinition(name: name, url: "s3://\(bucket.name)/audit-log").create(on: db)
        try bucket.create()
        var ids: [String] = []
        for index in 0..<5 {
            ids.append(
                try await db.query("SELECT auditlog.record(operation => $1)", ["s3test.\(index)"])
                    .singleRow(of: "auditlog.record")[0, as: String.self])
        }
        let environment = MotoBucket.environment(endpoint: MotoBucket.endpoint!)
        let runner = PassRunner(retain: "100 years", maxRows: 2, sinks: [name]) {
            try StorageURL.storage(for: $0, environment: environment)
        }

        let summary = try await runner.run(on: db)

        #expect(summary.failures == [])
        #expect(summary.sinks.first?.rows == 5 && summary.sinks.first?.pages == 3)
        let keys = try await db.query(
            "SELECT 'audit-log/' || object_key FROM auditlog.page WHERE sink = $1 AND acked_at IS NOT NULL ORDER BY 1",
            [name]
        ).rows.map { try $0[0, as: String.self] }
        let listed = try bucket.exportedIDs()
        #expect(listed.map(\.key) == keys && keys.count == summary.sinks.first?.pages)
        #expect(listed.flatMap(\.ids).sorted() == ids.sorted())

        // Verified through S3: fetched and listed there.
        let verifier = SinkVerifier(sink: name) { try StorageURL.storage(for: $0, environment: environment) }
        let report = try await verifier.verify(on: db)
        #expect(report.findings == [])
        #expect(report.totals.storedPages == keys.count && report.totals.storedEntries == 5)
        let copy = "audit-log/audit/dt=\(report.days[0].date)/\(name)-\(UUID().uuidString.lowercased()).ndjson.gz"
        _ = try bucket.boto3(
            "s3.copy_object(Bucket=args['bucket'], Key='\(copy)', CopySource={'Bucket': args['bucket'], 'Key': '\(keys[0])'})\n"
                + "s3.delete_object(Bucket=args['bucket'], Key='\(keys[1])')")
        let damaged = try await verifier.verify(on: db)
        #expect(damaged.problems.map(\.kind).sorted { $0.rawValue < $1.rawValue } == [.missingObject, .unknownObject])
        #expect(
            damaged.problems.compactMap(\.objectKey).map { "audit-log/" + $0 }.sorted() == [keys[1], copy].sorted())
    }
}

import AuditlogKit
import Foundation
import Testing

private let s3Endpoint = ProcessInfo.processInfo.environment["AUDITLOG_TEST_S3_ENDPOINT"].flatMap {
    $0.isEmpty ? nil : $0
}

extension ExportJobTests {
    /// A job of about 12 MiB of incompressible entries, composed at moto
    /// with a real multipart upload of parts of at least 5 MiB, read back by
    /// boto3 and fetched through its presigned link with curl.
    @Test(.enabled(if: s3Endpoint != nil, "set AUDITLOG_TEST_S3_ENDPOINT to run"))
    func exportsAJobToS3WithAMultipartUploadAndAPresignedLink() async throws {
        let endpoint = try #require(s3Endpoint)
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let scratch = try ScratchExportJob()
        defer { scratch.remove() }
        let bucket = "auditlog-jobs-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try boto3("s3.create_bucket(Bucket=args['bucket'])", bucket: bucket, endpoint: endpoint)
        let (id, ids) = try await scratch.requestJob(on: db) {
            // 400 entries of 60 KB random hex (entries hold at most 64 KB):
            // about 12 MiB once gzipped.
            try await db.query(
                """
                SELECT auditlog.record(operation => 'exportjob.big', stream => $1,
                       details => jsonb_build_object('blob', (SELECT string_agg(md5(random()::text || n || i), '')
                                                              FROM generate_series(1, 1875) AS i)))
                FROM generate_series(1, 400) AS n
                """, [scratch.stream]
            ).rows.map { try $0[0, as: String.self] }
        }
        let environment = [
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": endpoint,
        ]
        let runner = scratch.runner(maxRows: 50, url: "s3://\(bucket)/audit") { url in
            var storage = try S3Storage(url: url, configuration: S3Configuration(environment: environment))
            storage.partSize = 5 * 1024 * 1024
            return storage
        }

        let summary = try await runner.run(on: db)

        #expect(summary.failures == [])
        #expect(summary.jobs.map(\.id) == [id] && summary.jobs.first?.outcome == .finished)
        let status = try await ExportJobStatus.fetch(id, from: db)
        #expect(status.status == "done" && status.rowsExported == 400)
        let objectURL = try #require(status.objectURL)
        let prefix = "s3://\(bucket)/"
        try #require(objectURL.hasPrefix(prefix) && objectURL.hasSuffix(".ndjson.gz"))
        let key = String(objectURL.dropFirst(prefix.count))
        #expect(key.hasPrefix("audit/exports/job-\(id)/\(scratch.stream)_"))
        let found = try boto3(
            """
            import gzip, hashlib
            folder = args['key'].rsplit('/', 1)[0] + '/'
            keys = [o['Key'] for o in s3.list_objects_v2(Bucket=args['bucket'], Prefix=folder).get('Contents', [])]
            head = s3.head_object(Bucket=args['bucket'], Key=args['key'])
            body = s3.get_object(Bucket=args['bucket'], Key=args['key'])['Body'].read()
            ids = [json.loads(line)['id'] for line in gzip.decompress(body).splitlines()]
            uploads = s3.list_multipart_uploads(Bucket=args['bucket']).get('Uploads', [])
            print(json.dumps({'keys': keys, 'etag': head['ETag'], 'size': len(body),
                              'sha256': hashlib.sha256(body).hexdigest(), 'ids': ids, 'uploads': len(uploads)}))
            """, bucket: bucket, endpoint: endpoint, key: key)
        let object = try JSONDecoder().decode(FoundObject.self, from: Data(found.utf8))
        // Only the object is left in the job's folder, and no upload is open.
        #expect(object.keys == [key] && object.uploads == 0)
        // A multipart object's ETag ends with its number of parts.
        let parts = try #require(object.etag.firstMatch(of: /-(\d+)"?$/).flatMap { Int($0.1) })
        #expect(parts >= 2 && object.size >= parts * 5 * 1024 * 1024 - 5 * 1024 * 1024)
        #expect(Int64(object.size) == status.bytes && object.sha256 == status.sha256)
        #expect(object.ids == ids)

        let link = try #require(status.downloadURL)
        #expect(link.hasPrefix(endpoint + "/\(bucket)/\(key)?") && link.contains("X-Amz-Signature="))
        let expires = try #require(status.linkExpiresAt)
        #expect(abs(expires.timeIntervalSinceNow - 86_400) < 600)
        let downloaded = try curl(link)
        #expect(downloaded.count == object.size && SigV4.hexSHA256(downloaded) == status.sha256)
    }

    private struct FoundObject: Decodable {
        let keys: [String]
        let etag: String
        let size: Int
        let sha256: String
        let ids: [String]
        let uploads: Int
    }

    private func boto3(_ body: String, bucket: String, endpoint: String, key: String = "") throws -> String {
        let arguments = ["endpoint": endpoint, "bucket": bucket, "key": key]
        return try Python.run(
            """
            import json, sys, boto3
            args = json.load(sys.stdin)
            s3 = boto3.client('s3', endpoint_url=args['endpoint'], region_name='us-east-1',
                              aws_access_key_id='testing', aws_secret_access_key='testing')
            """ + "\n" + body,
            input: String(decoding: try JSONSerialization.data(withJSONObject: arguments), as: UTF8.self))
    }

    /// The body `curl -sf` downloads from `url`.
    private func curl(_ url: String) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-sf", url]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "curl -sf failed with \(process.terminationStatus)")
        return [UInt8](data)
    }
}

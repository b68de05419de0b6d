import AuditlogKit
import Foundation
import Testing

private let s3Endpoint = ProcessInfo.processInfo.environment["AUDITLOG_TEST_S3_ENDPOINT"].flatMap {
    $0.isEmpty ? nil : $0
}

/// `concatenate(_:into:afterEachPart:)` and `delete(key:)` of both storages.
@Suite struct ObjectConcatenationTests {
    @Test func fileStorageConcatenatesPartsInOrderAndDeletes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let storage = FileStorage(root: directory.path)
        let parts = (1...3).map { "job/parts/0000\($0).bin" }
        // The middle part is larger than the copy buffer.
        let contents: [[UInt8]] = [
            Array("first\n".utf8), (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 * 7) }, [],
        ]
        for (key, data) in zip(parts, contents) { try await storage.put(key: key, data: data) }

        let digest = try await storage.concatenate([parts[1], parts[0], parts[2]], into: "job/all.bin") {}

        let expected = contents[1] + contents[0]
        #expect(try directory.contents(of: "job/all.bin") == expected)
        #expect(digest == ObjectDigest(bytes: expected.count, sha256: SigV4.hexSHA256(expected)))
        #expect(try storage.downloadLink(key: "job/all.bin", expires: 60, date: Date()) == nil)

        for key in parts { try await storage.delete(key: key) }
        try await storage.delete(key: parts[0])

        #expect(try directory.files() == ["job/all.bin"])
    }

    @Test func fileStorageStoresNothingWhenAPartIsMissing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let storage = FileStorage(root: directory.path)
        try await storage.put(key: "parts/1", data: [1, 2, 3])

        await #expect(throws: StorageError.self) {
            try await storage.concatenate(["parts/1", "parts/2"], into: "all") {}
        }
        // Neither the object nor a temporary file is left.
        #expect(try directory.files() == ["parts/1"])
    }

    /// A multipart upload whose second part is missing is aborted: no
    /// object, no upload left open.
    @Test(.enabled(if: s3Endpoint != nil, "set AUDITLOG_TEST_S3_ENDPOINT to run"))
    func s3AbortsTheUploadWhenAPartIsMissing() async throws {
        let endpoint = try #require(s3Endpoint)
        let bucket = "auditlog-concat-\(UUID().uuidString.prefix(8).lowercased())"
        let boto3 = """
            import json, sys, boto3
            args = json.load(sys.stdin)
            s3 = boto3.client('s3', endpoint_url=args['endpoint'], region_name='us-east-1',
                              aws_access_key_id='testing', aws_secret_access_key='testing')

            """
        let arguments = "{\"endpoint\": \"\(endpoint)\", \"bucket\": \"\(bucket)\"}"
        _ = try Python.run(boto3 + "s3.create_bucket(Bucket=args['bucket'])", input: arguments)
        var storage = try S3Storage(
            url: "s3://\(bucket)/p",
            configuration: S3Configuration(
                credentials: AWSCredentials(accessKeyID: "testing", secretAccessKey: "testing"),
                endpoint: endpoint)
        )
        storage.partSize = 1  // counts as 5 MiB
        try await storage.put(key: "parts/1", data: [UInt8](repeating: 42, count: 5 * 1024 * 1024))

        await #expect(throws: StorageError.self) {
            try await storage.concatenate(["parts/1", "parts/2"], into: "all.bin") {}
        }

        let left = try Python.run(
            boto3 + """
                print(len(s3.list_multipart_uploads(Bucket=args['bucket']).get('Uploads', [])),
                      ' '.join(o['Key'] for o in s3.list_objects_v2(Bucket=args['bucket']).get('Contents', [])))
                """, input: arguments)
        #expect(left == "0 p/parts/1\n")
    }
}

@Suite struct S3DownloadLinkTests {
    @Test func aLinkIsPresignedWithLongLivedCredentials() throws {
        let storage = try S3Storage(
            url: "s3://bucket/prefix",
            configuration: S3Configuration(
                credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI"),
                endpoint: "http://127.0.0.1:9"))
        let date = Date(timeIntervalSince1970: 1_800_000_000)

        let link = try storage.downloadLink(key: "exports/job-1/a.csv", expires: 3_600, date: date)

        #expect(link == (try storage.presignedURL(key: "exports/job-1/a.csv", expires: 3_600, date: date)))
        #expect(link?.contains("X-Amz-Expires=3600") == true && link?.contains("wJalrXUtnFEMI") == false)
    }

    /// A presigned link made with temporary credentials would carry the
    /// session token, which must not reach the database.
    @Test func noLinkWithTemporaryCredentials() throws {
        let storage = try S3Storage(
            url: "s3://bucket/prefix",
            configuration: S3Configuration(
                credentials: AWSCredentials(
                    accessKeyID: "ASIAEXAMPLE", secretAccessKey: "secret", sessionToken: "token"),
                endpoint: "http://127.0.0.1:9"))

        #expect(try storage.downloadLink(key: "exports/job-1/a.csv", expires: 3_600, date: Date()) == nil)
    }
}

import Foundation
import Testing

/// A bucket of its own for a test on the S3-compatible server named by
/// `AUDITLOG_TEST_S3_ENDPOINT` (moto's server, which `scripts/test.sh`
/// starts on loopback), read back with boto3 as an independent client.
struct MotoBucket {
    /// The server's endpoint, or `nil` when the tests run without one.
    static let endpoint = ProcessInfo.processInfo.environment["AUDITLOG_TEST_S3_ENDPOINT"].flatMap {
        $0.isEmpty ? nil : $0
    }

    /// The bucket's name, unique to the test.
    let name = "auditlog-test-\(UUID().uuidString.prefix(8).lowercased())"

    /// The `AWS_*` variables that point `s3://` storage at `endpoint`
    /// (moto's own, or a proxy in front of it).
    static func environment(endpoint: String) -> [String: String] {
        [
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": endpoint,
        ]
    }

    /// Creates the bucket on the server.
    func create() throws {
        _ = try boto3("s3.create_bucket(Bucket=args['bucket'])")
    }

    /// Runs `body` in Python with `s3`, a boto3 client for the server, and
    /// `args['bucket']`, the bucket's name; returns what it printed.
    func boto3(_ body: String) throws -> String {
        let arguments = ["endpoint": try #require(Self.endpoint), "bucket": name]
        return try Python.run(
            """
            import json, sys, boto3
            args = json.load(sys.stdin)
            s3 = boto3.client('s3', endpoint_url=args['endpoint'], region_name='us-east-1',
                              aws_access_key_id='testing', aws_secret_access_key='testing')
            """ + "\n" + body,
            input: String(decoding: try JSONSerialization.data(withJSONObject: arguments), as: UTF8.self))
    }

    /// Every object's key, sorted, with the entry ids of its gzipped NDJSON
    /// body in order.
    func exportedIDs() throws -> [(key: String, ids: [String])] {
        try boto3(
            """
            import gzip
            for o in sorted(s3.list_objects_v2(Bucket=args['bucket']).get('Contents', []), key=lambda o: o['Key']):
                print(o['Key'], ' '.join(json.loads(l)['id'] for l in
                      gzip.decompress(s3.get_object(Bucket=args['bucket'], Key=o['Key'])['Body'].read()).splitlines()))
            """
        ).split(separator: "\n").map { line in
            let words = line.split(separator: " ").map(String.init)
            return (words[0], Array(words.dropFirst()))
        }
    }
}

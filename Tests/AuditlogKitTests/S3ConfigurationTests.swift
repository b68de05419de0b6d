import Testing

@testable import AuditlogKit

@Suite struct S3ConfigurationTests {
    static let keys = ["AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"]

    @Test func readsTheStandardVariables() throws {
        let configuration = try S3Configuration(
            environment: Self.keys.merging([
                "AWS_SESSION_TOKEN": "token", "AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "us-west-2",
                "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000/", "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
            ]) { $1 })
        #expect(
            configuration
                == S3Configuration(
                    credentials: AWSCredentials(
                        accessKeyID: "AKIAEXAMPLE", secretAccessKey: "secret", sessionToken: "token"),
                    region: "eu-west-3", endpoint: "http://127.0.0.1:9000"
                ))
    }

    @Test func fallsBackToDefaults() throws {
        let plain = try S3Configuration(environment: Self.keys.merging(["AWS_SESSION_TOKEN": ""]) { $1 })
        #expect(
            plain == S3Configuration(credentials: AWSCredentials(accessKeyID: "AKIAEXAMPLE", secretAccessKey: "secret"))
        )
        #expect(plain.region == "us-east-1" && plain.endpoint == nil)

        let other = try S3Configuration(
            environment: Self.keys.merging([
                "AWS_DEFAULT_REGION": "ap-south-1", "AWS_ENDPOINT_URL": "http://localhost:4566",
            ]) { $1 })
        #expect(other.region == "ap-south-1" && other.endpoint == "http://localhost:4566")
    }

    @Test(arguments: [
        [:], ["AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"], ["AWS_SECRET_ACCESS_KEY": "secret"],
        ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "secret"],
    ])
    func missingCredentialsNameTheVariables(environment: [String: String]) {
        #expect(throws: StorageError.missingCredentials) { try S3Configuration(environment: environment) }
        #expect(throws: StorageError.missingCredentials) {
            try StorageURL.storage(for: "s3://bucket/prefix", environment: environment)
        }
        #expect(StorageError.missingCredentials.description.contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"))
    }

    @Test func s3URLsOpenAnS3Storage() throws {
        let storage = try #require(
            try StorageURL.storage(for: "s3://audit-exports/prod/audit%20log/", environment: Self.keys) as? S3Storage
        )
        #expect(storage.bucket == "audit-exports")
        #expect(storage.prefix == "prod/audit log")
        #expect(storage.configuration.credentials.accessKeyID == "AKIAEXAMPLE")
        #expect(try S3Storage(url: "s3://audit-exports", configuration: storage.configuration).prefix == "")
    }

    @Test(arguments: ["s3://", "s3:///prefix", "s3://Upper/x", "s3://ab/x", "s3://bad_bucket/x"])
    func malformedS3URLsAreRejected(url: String) {
        #expect(throws: StorageError.unsupportedURL(url)) { try StorageURL.storage(for: url, environment: Self.keys) }
    }

    @Test func awsIsAddressedVirtualHostStyle() throws {
        let configuration = try S3Configuration(environment: Self.keys.merging(["AWS_REGION": "eu-west-3"]) { $1 })
        let storage = try S3Storage(url: "s3://audit-exports/prod", configuration: configuration)
        let url = try storage.presignedURL(key: "dt=2026-11-23/a b.ndjson.gz")
        #expect(url.hasPrefix("https://audit-exports.s3.eu-west-3.amazonaws.com/prod/dt%3D2026-11-23/a%20b.ndjson.gz?"))
        #expect(url.contains("X-Amz-Expires=86400&"))
        #expect(throws: StorageError.invalidKey("../x")) { try storage.presignedURL(key: "../x") }
    }

    @Test func contentTypesFollowTheKey() {
        #expect(S3Storage.contentType(of: "a/b.ndjson.gz") == "application/gzip")
        #expect(S3Storage.contentType(of: "a/b.ndjson") == "application/x-ndjson")
        #expect(S3Storage.contentType(of: "a/b") == "application/octet-stream")
    }

    @Test func retryDelaysGrowWithJitterUpToTheCeiling() {
        let policy = S3RetryPolicy(baseDelay: .milliseconds(100), maxDelay: .milliseconds(350))
        for _ in 0..<100 {
            #expect(policy.delay(after: 1) <= .milliseconds(100))
            #expect(policy.delay(after: 2) <= .milliseconds(200))
            #expect(policy.delay(after: 9) <= .milliseconds(350))
            #expect(policy.delay(after: 1) >= .zero)
        }
        #expect(S3RetryPolicy(maxAttempts: 0).maxAttempts == 1)
    }
}

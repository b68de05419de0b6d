public import Foundation

/// Where and as whom `s3://` storage connects, from the standard AWS
/// environment variables.
public struct S3Configuration: Sendable, Equatable {
    /// The keys that sign requests.
    public var credentials: AWSCredentials
    /// The bucket's region.
    public var region: String
    /// A custom endpoint such as `http://127.0.0.1:9000` (MinIO, moto),
    /// addressed path-style; `nil` means AWS itself, addressed
    /// virtual-host style at `https://<bucket>.s3.<region>.amazonaws.com`.
    public var endpoint: String?

    /// Creates a configuration; an empty `endpoint` means AWS itself.
    public init(credentials: AWSCredentials, region: String = "us-east-1", endpoint: String? = nil) {
        self.credentials = credentials
        self.region = region
        self.endpoint = endpoint.flatMap { $0.isEmpty ? nil : $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// Reads the configuration from `environment`:
    ///
    /// - `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, for temporary
    ///   credentials, `AWS_SESSION_TOKEN`;
    /// - `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`;
    /// - `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, for a custom
    ///   endpoint.
    ///
    /// Empty variables count as unset.
    ///
    /// - Throws: ``StorageError/missingCredentials`` when either key is
    ///   missing.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let accessKeyID = value("AWS_ACCESS_KEY_ID"), let secret = value("AWS_SECRET_ACCESS_KEY") else {
            throw StorageError.missingCredentials
        }
        self.init(
            credentials: AWSCredentials(
                accessKeyID: accessKeyID, secretAccessKey: secret,
                sessionToken: value("AWS_SESSION_TOKEN")),
            region: value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? "us-east-1",
            endpoint: value("AWS_ENDPOINT_URL_S3") ?? value("AWS_ENDPOINT_URL")
        )
    }
}

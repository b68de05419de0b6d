/// The keys that sign requests to AWS or to an S3-compatible server.
public struct AWSCredentials: Sendable, Equatable {
    /// The access key ID, such as `AKIAIOSFODNN7EXAMPLE`.
    public var accessKeyID: String
    /// The secret access key. It signs requests and is never sent or shown.
    public var secretAccessKey: String
    /// The session token of temporary credentials, sent as
    /// `x-amz-security-token`.
    public var sessionToken: String?

    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// An error about where or how objects are stored.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The storage URL is not one auditlogctl understands.
    case unsupportedURL(String)
    /// The storage URL's scheme is valid but this build cannot write to it.
    case schemeNotSupportedYet(String)
    /// The object key is empty, absolute, or has an empty, `.` or `..`
    /// segment, which could place the object outside the storage's root.
    case invalidKey(String)
    /// A file system call failed.
    case fileSystem(operation: String, path: String, reason: String)
    /// `s3://` storage needs credentials and the environment has none.
    case missingCredentials
    /// A presigned URL's lifetime in seconds is not between 1 and 7 days.
    case invalidExpiry(Int)
    /// An S3 request failed: with an HTTP status and the server's error
    /// code, or without a status when the server could not be reached.
    /// Never includes credentials.
    case s3(operation: String, url: String, status: Int?, reason: String, attempts: Int)

    public var description: String {
        switch self {
        case .unsupportedURL(let url):
            return "unsupported storage URL '\(url)'; use file:///absolute/path or s3://bucket/prefix"
        case .schemeNotSupportedYet(let scheme):
            return "\(scheme):// storage is not supported yet by this build of auditlogctl"
        case .invalidKey(let key):
            return "invalid object key '\(key)': keys are relative paths without empty, '.' or '..' segments"
        case .fileSystem(let operation, let path, let reason):
            return "could not \(operation) \(path): \(reason)"
        case .missingCredentials:
            return "s3:// storage needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
                + " (and AWS_SESSION_TOKEN for temporary credentials)"
        case .invalidExpiry(let seconds):
            return "invalid presigned URL lifetime \(seconds)s: it must be between 1 second and 7 days"
        case .s3(let operation, let url, let status, let reason, let attempts):
            let outcome = status.map { "HTTP \($0): \(reason)" } ?? reason
            switch attempts {
            case 0: return "could not \(operation) \(url): \(outcome)"
            case 1: return "could not \(operation) \(url): \(outcome) (after 1 attempt)"
            default: return "could not \(operation) \(url): \(outcome) (after \(attempts) attempts)"
            }
        }
    }
}

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

    public var description: String {
        switch self {
        case .unsupportedURL(let url):
            return "unsupported storage URL '\(url)'; use file:///absolute/path"
        case .schemeNotSupportedYet(let scheme):
            return "\(scheme):// storage is not supported yet by this build of auditlogctl"
        case .invalidKey(let key):
            return "invalid object key '\(key)': keys are relative paths without empty, '.' or '..' segments"
        case let .fileSystem(operation, path, reason):
            return "could not \(operation) \(path): \(reason)"
        }
    }
}

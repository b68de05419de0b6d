import Foundation

/// Opens the storage that a sink's URL names.
public enum StorageURL {
    /// Returns the storage for `url`.
    ///
    /// `file:///absolute/path` is a ``FileStorage`` rooted at the path, with
    /// `%XX` escapes decoded. `s3://bucket/prefix` is an ``S3Storage``
    /// configured from the process's environment (see
    /// ``S3Configuration/init(environment:)``).
    ///
    /// - Throws: ``StorageError/missingCredentials`` for an `s3://` URL
    ///   without credentials in the environment,
    ///   ``StorageError/schemeNotSupportedYet(_:)`` for `gs://` URLs, and
    ///   ``StorageError/unsupportedURL(_:)`` for anything else.
    public static func storage(for url: String) throws -> any ObjectStorage {
        try storage(for: url, environment: ProcessInfo.processInfo.environment)
    }

    /// Returns the storage for `url`, configuring `s3://` storage from
    /// `environment` instead of the process's.
    public static func storage(for url: String, environment: [String: String]) throws -> any ObjectStorage {
        if url.hasPrefix("file:///") {
            guard let path = url.dropFirst("file://".count).removingPercentEncoding else {
                throw StorageError.unsupportedURL(url)
            }
            return FileStorage(root: path)
        }
        if url.hasPrefix("s3://") {
            return try S3Storage(url: url, configuration: S3Configuration(environment: environment))
        }
        if url.hasPrefix("gs://") {
            throw StorageError.schemeNotSupportedYet("gs")
        }
        throw StorageError.unsupportedURL(url)
    }
}

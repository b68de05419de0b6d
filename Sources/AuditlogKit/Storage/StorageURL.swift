import Foundation

/// Opens the storage that a sink's URL names.
public enum StorageURL {
    /// Returns the storage for `url`.
    ///
    /// `file:///absolute/path` is a ``FileStorage`` rooted at the path, with
    /// `%XX` escapes decoded.
    ///
    /// - Throws: ``StorageError/schemeNotSupportedYet(_:)`` for `s3://` and
    ///   `gs://` URLs, and ``StorageError/unsupportedURL(_:)`` for anything
    ///   else.
    public static func storage(for url: String) throws -> any ObjectStorage {
        if url.hasPrefix("file:///") {
            guard let path = url.dropFirst("file://".count).removingPercentEncoding else {
                throw StorageError.unsupportedURL(url)
            }
            return FileStorage(root: path)
        }
        if let scheme = ["s3", "gs"].first(where: { url.hasPrefix($0 + "://") }) {
            throw StorageError.schemeNotSupportedYet(scheme)
        }
        throw StorageError.unsupportedURL(url)
    }
}

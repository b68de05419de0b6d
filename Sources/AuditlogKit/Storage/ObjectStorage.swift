/// A place that keeps objects under keys: a local folder or a bucket.
///
/// Keys are relative paths with `/` between segments, such as
/// `audit/dt=2026-11-23/main-<page_id>.ndjson.gz`; a storage puts them under
/// its own root or prefix.
public protocol ObjectStorage: Sendable {
    /// Stores `data` under `key`, replacing any object there.
    ///
    /// The write is all or nothing: readers see the previous object or the
    /// whole new one, never a part, even if the process dies midway.
    func put(key: String, data: [UInt8]) async throws

    /// Returns the object stored under `key`, or `nil` when there is none.
    func get(key: String) async throws -> [UInt8]?
}

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

    /// Returns the keys of the objects whose keys start with `prefix`,
    /// relative to the storage's root or prefix, sorted.
    ///
    /// `prefix` is matched character by character, not by segment:
    /// `audit/dt=2026-11` lists the objects of every day of November.
    func list(prefix: String) async throws -> [String]
}

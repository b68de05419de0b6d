public import Foundation

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

    /// Deletes the object under `key`; deleting one that is not there is
    /// not an error.
    func delete(key: String) async throws

    /// Stores under `key` the bytes of the objects under `parts`, one after
    /// the other, replacing any object there, all or nothing like
    /// ``put(key:data:)``, and returns the size and SHA-256 of what it
    /// stored.
    ///
    /// The parts are read one at a time, so memory use stays about one part
    /// (or one upload part) whatever the size of the whole.
    ///
    /// - Parameter afterEachPart: Called after each part is read; an error
    ///   it throws abandons the object. (An export job worker extends its
    ///   lease there, and learns there that it lost the job.)
    /// - Throws: An error when a part is missing or cannot be read, or the
    ///   object cannot be stored; nothing is stored under `key` then.
    func concatenate(
        _ parts: [String],
        into key: String,
        afterEachPart: () async throws -> Void
    ) async throws -> ObjectDigest

    /// A link that downloads the object under `key` without credentials
    /// for `expires` seconds after `date`, or `nil` when the storage's own
    /// URL is the only way to it (a local folder).
    func downloadLink(key: String, expires: Int, date: Date) throws -> String?
}

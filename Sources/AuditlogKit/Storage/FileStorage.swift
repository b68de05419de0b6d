import Foundation

/// Objects as files under a local directory: the storage for `file:///` URLs.
///
/// A key's segments become directories under ``root``, created as needed.
/// Each ``put(key:data:)`` writes a hidden temporary file next to the final
/// one (`.<name>.<uuid>.tmp`), syncs it, renames it over the final name and
/// syncs the directory, so a crash leaves either the old object or the new
/// one, and a successful put survives a power loss.
public struct FileStorage: ObjectStorage {
    /// The directory that holds the objects.
    public let root: String

    /// Creates a storage under `root`, an absolute directory path. The
    /// directory is created on the first write.
    public init(root: String) {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    public func put(key: String, data: [UInt8]) async throws {
        let path = try path(for: key)
        let directory = Self.parent(of: path)
        try Self.makeDirectory(directory)
        let name = key.split(separator: "/").last!
        let temporary = "\(directory)/.\(name).\(UUID().uuidString).tmp"
        do {
            try Self.writeAndSync(data, to: temporary)
            guard rename(temporary, path) == 0 else { throw Self.lastError("rename", temporary) }
        } catch {
            unlink(temporary)
            throw error
        }
        try Self.syncDirectory(directory)
    }

    public func get(key: String) async throws -> [UInt8]? {
        let path = try path(for: key)
        do {
            return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch CocoaError.fileReadNoSuchFile {
            return nil
        } catch {
            throw StorageError.fileSystem(operation: "read", path: path, reason: error.localizedDescription)
        }
    }

    /// The file for `key`.
    ///
    /// - Throws: ``StorageError/invalidKey(_:)`` for a key that could name a
    ///   file outside ``root``.
    private func path(for key: String) throws -> String {
        try ObjectKey.validate(key)
        return root == "/" ? "/" + key : root + "/" + key
    }

    private static func writeAndSync(_ data: [UInt8], to path: String) throws {
        let file = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard file >= 0 else { throw lastError("create", path) }
        defer { close(file) }
        try data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(file, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    guard errno == EINTR else { throw lastError("write", path) }
                    continue
                }
                offset += written
            }
        }
        guard fsync(file) == 0 else { throw lastError("sync", path) }
    }

    /// Creates `path` and its missing parents, syncing the directory that
    /// receives each new one.
    private static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) == 0 {
            return try syncDirectory(parent(of: path))
        }
        switch errno {
        case EEXIST:
            return
        case ENOENT where path != "/" && path != ".":
            try makeDirectory(parent(of: path))
            try makeDirectory(path)
        default:
            throw lastError("create directory", path)
        }
    }

    private static func syncDirectory(_ path: String) throws {
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw lastError("open directory", path) }
        defer { close(directory) }
        guard fsync(directory) == 0 else { throw lastError("sync directory", path) }
    }

    private static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The error for the failed system call that set `errno`.
    private static func lastError(_ operation: String, _ path: String) -> StorageError {
        .fileSystem(operation: operation, path: path, reason: String(cString: strerror(errno)))
    }
}

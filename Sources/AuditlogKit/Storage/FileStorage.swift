public import Foundation

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
        try await writeAtomically(key) { file, temporary in
            try data.withUnsafeBytes { try Self.writeAll($0, to: file, path: temporary) }
        }
    }

    /// Streams the parts into a temporary file next to `key`'s, syncs it and
    /// renames it over `key`'s, like ``put(key:data:)``.
    public func concatenate(
        _ parts: [String],
        into key: String,
        afterEachPart: () async throws -> Void
    ) async throws -> ObjectDigest {
        let sources = try parts.map(path(for:))
        var digest = ObjectDigest.Builder()
        try await writeAtomically(key) { file, temporary in
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            for source in sources {
                let input = open(source, O_RDONLY | O_CLOEXEC)
                guard input >= 0 else { throw Self.lastError("open", source) }
                defer { close(input) }
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress!, $0.count) }
                    if count < 0 {
                        guard errno == EINTR else { throw Self.lastError("read", source) }
                        continue
                    }
                    if count == 0 { break }
                    try buffer.withUnsafeBytes { chunk in
                        let piece = UnsafeRawBufferPointer(rebasing: chunk[..<count])
                        try Self.writeAll(piece, to: file, path: temporary)
                        digest.update(piece)
                    }
                }
                try await afterEachPart()
            }
        }
        return digest.finalize()
    }

    public func delete(key: String) async throws {
        let path = try path(for: key)
        guard unlink(path) == 0 || errno == ENOENT else { throw Self.lastError("delete", path) }
    }

    /// `nil`: a file is reached through its `file://` URL.
    public func downloadLink(key: String, expires: Int, date: Date) throws -> String? {
        nil
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

    /// Writes the file for `key` through `fill`, which gets a new hidden
    /// temporary file next to it (and that file's path): syncs it, renames it
    /// over the final name and syncs the directory; removes it on failure.
    private func writeAtomically(_ key: String, _ fill: (Int32, String) async throws -> Void) async throws {
        let path = try path(for: key)
        let directory = Self.parent(of: path)
        try Self.makeDirectory(directory)
        let name = key.split(separator: "/").last!
        let temporary = "\(directory)/.\(name).\(UUID().uuidString).tmp"
        do {
            let file = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard file >= 0 else { throw Self.lastError("create", temporary) }
            defer { close(file) }
            try await fill(file, temporary)
            guard fsync(file) == 0 else { throw Self.lastError("sync", temporary) }
            guard rename(temporary, path) == 0 else { throw Self.lastError("rename", temporary) }
        } catch {
            unlink(temporary)
            throw error
        }
        try Self.syncDirectory(directory)
    }

    private static func writeAll(_ buffer: UnsafeRawBufferPointer, to file: Int32, path: String) throws {
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

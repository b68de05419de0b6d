import Foundation

extension FileStorage {
    /// Walks the directories under ``root`` that can hold keys starting with
    /// `prefix`. The hidden temporaries of puts under way
    /// (`.<name>.<uuid>.tmp`) are not objects and are left out; a missing
    /// root holds no objects.
    public func list(prefix: String) async throws -> [String] {
        // Only the directory named by prefix's complete segments is walked,
        // not the whole tree.
        let directory = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
        if !directory.isEmpty {
            try ObjectKey.validate(directory)
        }
        var keys: [String] = []
        try collect(directory, into: &keys, prefix: prefix)
        return keys.sorted()
    }

    /// Appends the keys starting with `prefix` of the files below the
    /// directory for `relative`, descending only into directories that can
    /// hold such keys.
    private func collect(_ relative: String, into keys: inout [String], prefix: String) throws {
        let path = relative.isEmpty ? root : (root == "/" ? "/" : root + "/") + relative
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch CocoaError.fileReadNoSuchFile {
            return
        } catch {
            throw StorageError.fileSystem(operation: "list", path: path, reason: error.localizedDescription)
        }
        for name in entries where !Self.isTemporary(name) {
            let key = relative.isEmpty ? name : relative + "/" + name
            guard key.hasPrefix(prefix) || prefix.hasPrefix(key + "/") else { continue }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                try collect(key, into: &keys, prefix: prefix)
            } else if key.hasPrefix(prefix) {
                keys.append(key)
            }
        }
    }

    /// Whether `name` is the temporary file of a put: `.<name>.<uuid>.tmp`.
    static func isTemporary(_ name: String) -> Bool {
        name.hasPrefix(".") && name.hasSuffix(".tmp")
    }
}

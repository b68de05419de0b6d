import Foundation

/// A fresh directory under the system's temporary directory.
struct TemporaryDirectory {
    /// The directory's absolute path, without a trailing slash.
    let path: String

    /// Creates the directory; call ``remove()`` when done.
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("auditlog-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The paths of all regular files below the directory, hidden ones
    /// included, relative to it and sorted.
    func files() throws -> [String] {
        try FileManager.default.subpathsOfDirectory(atPath: path).filter { relative in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path + "/" + relative, isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }.sorted()
    }

    /// The contents of the file at `relative`.
    func contents(of relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/" + relative)))
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

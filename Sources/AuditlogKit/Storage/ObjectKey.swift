/// The rule every storage applies to object keys.
enum ObjectKey {
    /// Checks that `key` is a relative path whose segments are not empty,
    /// `.` or `..` and hold no NUL, so it cannot name an object outside a
    /// storage's root or prefix.
    ///
    /// - Throws: ``StorageError/invalidKey(_:)`` otherwise.
    static func validate(_ key: String) throws {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !segments.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." || $0.contains("\0") }) else {
            throw StorageError.invalidKey(key)
        }
    }
}

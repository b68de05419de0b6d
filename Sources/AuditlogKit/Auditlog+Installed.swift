extension Auditlog {
    /// What ``Auditlog/installed(on:)`` found in a database: which edition
    /// of auditlog, and which release of it.
    public struct Installed: Sendable, Equatable, CustomStringConvertible {
        /// The edition: with C or without.
        public var edition: Edition
        /// The release, such as `0.5.0`.
        public var version: String

        /// Creates a description of an installation.
        public init(edition: Edition, version: String) {
            self.edition = edition
            self.version = version
        }

        /// The release and the edition, as `auditlogctl` prints them:
        /// `0.5.0 (SQL edition)`.
        public var description: String {
            "\(version) (\(edition.name) edition)"
        }
    }
}

/// An error about the state of auditlog in a database.
public enum AuditlogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The connected database has no auditlog extension.
    case extensionNotInstalled
    /// No sink has this name.
    case noSuchSink(String)

    public var description: String {
        switch self {
        case .extensionNotInstalled:
            return "the auditlog extension is not installed in this database (CREATE EXTENSION auditlog)"
        case .noSuchSink(let name):
            return "sink \"\(name)\" does not exist"
        }
    }
}

/// An error about the state of auditlog in a database.
public enum AuditlogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The connected database has neither edition of auditlog: no
    /// extension, and no SQL edition installed with `psql -f`.
    case extensionNotInstalled
    /// No sink has this name.
    case noSuchSink(String)
    /// There is no export job with this id.
    case exportJobNotFound(Int64)
    /// The connection's statements do not all reach one server session: a
    /// pooler in transaction mode, most likely (``SessionCheck``).
    case notOneSession(String)

    public var description: String {
        switch self {
        case .extensionNotInstalled:
            return "auditlog is not installed in this database (CREATE EXTENSION auditlog, "
                + "or psql -v ON_ERROR_STOP=1 -f auditlog.sql for the SQL edition)"
        case .noSuchSink(let name):
            return "sink \"\(name)\" does not exist"
        case .exportJobNotFound(let id):
            return "export job \(id) does not exist"
        case .notOneSession(let problem):
            return "the connection does not keep one server session (\(problem)): a pooler in transaction mode? "
                + "auditlogctl needs a session of its own: connect directly or through a session-mode pooler"
        }
    }
}

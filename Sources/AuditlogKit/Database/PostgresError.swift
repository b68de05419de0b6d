import Foundation

/// An error from talking to PostgreSQL.
///
/// ``description`` is always a single line, suitable for a log line or a
/// command-line error message. It never contains the connection password:
/// libpq does not put passwords in its messages, and this type keeps only the
/// first line of connection messages.
public struct PostgresError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// The connection could not be established, or was lost.
        case connection
        /// The server rejected a statement; ``PostgresError/sqlState`` says why.
        case server
        /// This library rejected a parameter or could not decode a result.
        case client
    }

    /// What went wrong.
    public var kind: Kind
    /// The primary message.
    public var message: String
    /// The five-character SQLSTATE code of a server error, such as `22012`.
    public var sqlState: String?
    /// ``sqlState`` as a ``Code``, to compare with the named ones.
    public var code: Code? {
        sqlState.map(Code.init(rawValue:))
    }
    /// The server's optional detail message.
    public var detail: String?
    /// The server's optional hint.
    public var hint: String?

    /// Creates an error.
    public init(kind: Kind, message: String, sqlState: String? = nil, detail: String? = nil, hint: String? = nil) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
    }

    /// A SQLSTATE. The codes this library acts on are named here, and only
    /// here.
    public struct Code: RawRepresentable, Hashable, Sendable {
        /// The five characters, such as `55P03`.
        public var rawValue: String

        /// Creates a code.
        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        /// `55P03`, lock_not_available: what the fenced functions of export
        /// jobs raise for a worker whose lease was taken over or whose job
        /// was cancelled.
        public static let lockNotAvailable = Code(rawValue: "55P03")
    }

    public var description: String {
        switch kind {
        case .connection:
            return Self.firstLine(of: message)
        case .server:
            var line = Self.oneLine(message)
            if let sqlState { line += " (SQLSTATE \(sqlState))" }
            if let detail { line += "; detail: " + Self.oneLine(detail) }
            if let hint { line += "; hint: " + Self.oneLine(hint) }
            return line
        case .client:
            return Self.oneLine(message)
        }
    }

    /// libpq connection messages may go on with an indented explanation, or
    /// with one line per host tried; the first line carries the cause.
    private static func firstLine(of text: String) -> String {
        text.split(whereSeparator: \.isNewline).first.map(trimmed) ?? ""
    }

    private static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map(trimmed).filter { !$0.isEmpty }.joined(separator: " ")
    }

    private static func trimmed(_ line: Substring) -> String {
        line.trimmingCharacters(in: .whitespaces)
    }
}

public import Foundation

/// A type that can be read from PostgreSQL's text output format.
public protocol PostgresTextDecodable {
    /// Decodes a value from its PostgreSQL text form, or returns `nil` if the
    /// text is not valid for this type.
    init?(postgresText: String)
}

extension String: PostgresTextDecodable {
    public init?(postgresText: String) { self = postgresText }
}

extension Int: PostgresTextDecodable {
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Int64: PostgresTextDecodable {
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Double: PostgresTextDecodable {
    /// Reads `float8` and `numeric` text, including `NaN`, `Infinity` and `-Infinity`.
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Bool: PostgresTextDecodable {
    /// Reads `t` and `f`, the text form of `boolean`.
    public init?(postgresText: String) {
        switch postgresText {
        case "t": self = true
        case "f": self = false
        default: return nil
        }
    }
}

extension Date: PostgresTextDecodable {
    /// Reads seconds since the Unix epoch, as `extract(epoch FROM …)`
    /// selects a `timestamptz`: unlike the `timestamptz` text itself, that
    /// does not depend on the session's `TimeZone` or `DateStyle`.
    public init?(postgresText: String) {
        guard let seconds = Double(postgresText), seconds.isFinite else { return nil }
        self.init(timeIntervalSince1970: seconds)
    }
}

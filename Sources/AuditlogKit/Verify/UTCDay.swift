import Foundation

/// A calendar day in UTC, written `YYYY-MM-DD`: the day of an entry's
/// `logged_at` and of the `dt=` folder its page is stored under.
public struct UTCDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The day as `YYYY-MM-DD`.
    public let description: String

    /// Reads `text`, `YYYY-MM-DD` with a real date of years 0001 to 9999,
    /// or returns `nil`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts.map(\.count) == [4, 2, 2],
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            year >= 1, (1...12).contains(month), day >= 1
        else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= lengths[month - 1] else { return nil }
        description = text
    }

    public static func < (lhs: UTCDay, rhs: UTCDay) -> Bool {
        lhs.description < rhs.description
    }
}

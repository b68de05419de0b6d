public import Foundation
public import Logging

/// Writes each log record as one JSON object on one line, for log
/// collectors: `timestamp` (ISO-8601 in UTC, to the millisecond), `level`,
/// `label`, `message` and the record's metadata as further keys.
///
/// Keys are sorted. Metadata strings and string-convertible values become
/// JSON strings, metadata arrays and dictionaries JSON arrays and objects.
/// A metadata key equal to one of the four fixed keys is written with a
/// `metadata.` prefix, so that it cannot hide them.
public struct JSONLogHandler: LogHandler {
    /// The logger's label.
    public let label: String
    /// Where the lines go.
    public let output: LogLineOutput
    /// The time of a record; the current time but in tests.
    public let now: @Sendable () -> Date

    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// Creates a handler.
    public init(
        label: String,
        output: LogLineOutput = .standardError,
        metadataProvider: Logger.MetadataProvider? = nil,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.label = label
        self.output = output
        self.metadataProvider = metadataProvider
        self.now = now
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: JSONValue] = [:]
        for (key, value) in event.mergedMetadata(handler: metadata, provider: metadataProvider) {
            let isFixed = ["timestamp", "level", "label", "message"].contains(key)
            object[isFixed ? "metadata.\(key)" : key] = JSONValue(value)
        }
        object["timestamp"] = .string(now().formatted(Self.timestampStyle))
        object["level"] = .string(event.level.rawValue)
        object["label"] = .string(label)
        object["message"] = .string(event.message.description)
        output.write(object.encodedLine())
    }

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
}

/// A metadata value as JSON.
private enum JSONValue: Encodable {
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(_ value: Logger.MetadataValue) {
        switch value {
        case .string(let string):
            self = .string(string)
        case .stringConvertible(let convertible):
            self = .string(convertible.description)
        case .array(let values):
            self = .array(values.map(JSONValue.init))
        case .dictionary(let values):
            self = .object(values.mapValues(JSONValue.init))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let string): try container.encode(string)
        case .array(let values): try container.encode(values)
        case .object(let values): try container.encode(values)
        }
    }
}

extension [String: JSONValue] {
    /// The object on one line, keys sorted, newline-terminated.
    fileprivate func encodedLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings, arrays and objects of them cannot fail.
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

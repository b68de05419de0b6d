public import Logging

/// Writes each log record as one readable line, in the style of
/// auditlogctl's error messages: `<label>: <message>` for errors and
/// `<label>: <level>: <message>` for every other level, followed by the
/// record's metadata as ` key=value`, sorted by key.
///
/// A value is quoted, with `"` and `\` escaped, when it is empty or holds a
/// space, `"`, `=`, `\` or a line break. Line breaks in messages and values
/// are written as `\n`, so that a record never takes more than one line. There is no
/// timestamp: whatever collects standard error (journald, a container
/// runtime) adds its own; the JSON format has one.
public struct TextLogHandler: LogHandler {
    /// The logger's label.
    public let label: String
    /// Where the lines go.
    public let output: LogLineOutput

    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// Creates a handler.
    public init(label: String, output: LogLineOutput = .standardError, metadataProvider: Logger.MetadataProvider? = nil)
    {
        self.label = label
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "\(label): "
        if event.level != .error {
            line += "\(event.level.rawValue): "
        }
        line += Self.singleLine(event.message.description)
        let fields = event.mergedMetadata(handler: metadata, provider: metadataProvider)
        for key in fields.keys.sorted() {
            line += " \(key)=\(Self.quotedIfNeeded(Self.render(fields[key]!)))"
        }
        output.write(line + "\n")
    }

    private static func render(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array, .dictionary: value.description
        }
    }

    private static func quotedIfNeeded(_ value: String) -> String {
        let needsQuotes =
            value.isEmpty
            || value.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || $0.isNewline }
        guard needsQuotes else { return value }
        return "\"" + singleLine(value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")) + "\""
    }

    private static func singleLine(_ text: String) -> String {
        text.replacing("\r\n", with: "\\n").replacing("\n", with: "\\n").replacing("\r", with: "\\n")
    }
}

import Foundation

/// Where a log handler writes its lines.
public struct LogLineOutput: Sendable {
    /// Writes one complete line, newline included.
    public var write: @Sendable (String) -> Void

    /// Creates an output that hands each line to `write`.
    public init(write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    /// Standard error. Each line goes out in one write, so lines logged by
    /// several tasks at once do not interleave.
    public static let standardError = LogLineOutput { line in
        FileHandle.standardError.write(Data(line.utf8))
    }
}

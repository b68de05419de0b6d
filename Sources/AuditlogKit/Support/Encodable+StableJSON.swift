import Foundation

extension Encodable {
    /// `self` as the JSON that `auditlogctl` prints for scripts: indented,
    /// keys sorted, slashes unescaped, times in ISO-8601 (UTC), so that the
    /// output of one version stays comparable with the next.
    func stableJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

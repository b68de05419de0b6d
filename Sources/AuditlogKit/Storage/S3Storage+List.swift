import Foundation

extension S3Storage {
    /// Lists the keys under ``prefix`` that start with `prefix` with
    /// `ListObjectsV2`, following continuation tokens until the listing is
    /// complete.
    public func list(prefix: String) async throws -> [String] {
        try await list(prefix: prefix, pageSize: 1000)
    }

    /// ``list(prefix:)`` asking for at most `pageSize` keys a request
    /// (`max-keys`): S3 never returns more than 1000; tests pass fewer to
    /// exercise continuation tokens.
    func list(prefix: String, pageSize: Int) async throws -> [String] {
        let root = self.prefix.isEmpty ? "" : self.prefix + "/"
        let display = "s3://\(bucket)/\(root)\(prefix)"
        // With encoding-type=url, S3 escapes keys that XML 1.0 could not
        // carry; they are decoded below.
        let query = [("list-type", "2"), ("prefix", root + prefix), ("max-keys", String(pageSize)),
                     ("encoding-type", "url")]
        var keys: [String] = []
        var continuation: String?
        repeat {
            let body = try await send(
                "GET", location: bucketLocation, query: query + (continuation.map { [("continuation-token", $0)] } ?? []),
                display: display, operation: "list", contentType: nil, body: nil, accept: [200]
            ).body
            let page = ListPage(xml: String(decoding: body, as: UTF8.self))
            for encoded in page.keys {
                guard let key = Self.decodeListedKey(encoded), key.hasPrefix(root) else {
                    throw StorageError.s3(operation: "list", url: display, status: 200,
                                          reason: "the listing holds a key outside the prefix: \(scrubbed(encoded))",
                                          attempts: 1)
                }
                keys.append(String(key.dropFirst(root.count)))
            }
            guard page.isTruncated else { break }
            guard let token = page.nextContinuationToken, token != continuation else {
                throw StorageError.s3(operation: "list", url: display, status: 200,
                                      reason: "a truncated listing without a new continuation token", attempts: 1)
            }
            continuation = token
        } while true
        return keys.sorted()
    }

    /// The endpoint and decoded path of the bucket itself.
    private var bucketLocation: (endpoint: String, path: String) {
        if let endpoint = configuration.endpoint {
            return (endpoint, "/\(bucket)")
        }
        return ("https://\(bucket).s3.\(configuration.region).amazonaws.com", "/")
    }

    /// A key as `encoding-type=url` returns it: form-encoded, `+` for a
    /// space.
    static func decodeListedKey(_ encoded: String) -> String? {
        encoded.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// The parts of a `ListBucketResult` that listing needs.
    struct ListPage {
        var keys: [String] = []
        var isTruncated = false
        var nextContinuationToken: String?

        /// Reads `xml`, a `ListBucketResult`. Its elements are flat text, so
        /// a scan for the few that matter is enough.
        init(xml: String) {
            var rest = xml[...]
            while let start = rest.range(of: "<Key>"), let end = rest.range(of: "</Key>", range: start.upperBound..<rest.endIndex) {
                keys.append(Self.unescaped(rest[start.upperBound..<end.lowerBound]))
                rest = rest[end.upperBound...]
            }
            isTruncated = Self.element("IsTruncated", in: xml) == "true"
            nextContinuationToken = Self.element("NextContinuationToken", in: xml)
        }

        private static func element(_ name: String, in xml: String) -> String? {
            guard let start = xml.range(of: "<\(name)>"),
                  let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex) else { return nil }
            return unescaped(xml[start.upperBound..<end.lowerBound])
        }

        /// `text` with XML's predefined entities replaced.
        private static func unescaped(_ text: Substring) -> String {
            guard text.contains("&") else { return String(text) }
            return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
                .replacingOccurrences(of: "&amp;", with: "&")
        }
    }
}

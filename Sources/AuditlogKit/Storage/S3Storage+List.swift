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
        let query = [
            ("list-type", "2"), ("prefix", root + prefix), ("max-keys", String(pageSize)),
            ("encoding-type", "url"),
        ]
        var keys: [String] = []
        var continuation: String?
        repeat {
            let body = try await send(
                "GET", location: bucketLocation,
                query: query + (continuation.map { [("continuation-token", $0)] } ?? []),
                display: display, operation: "list", contentType: nil, body: nil, accept: [200]
            ).body
            let page = ListPage(xml: String(decoding: body, as: UTF8.self))
            for encoded in page.keys {
                guard let key = Self.decodeListedKey(encoded), key.hasPrefix(root) else {
                    throw StorageError.s3(
                        operation: "list", url: display, status: 200,
                        reason: "the listing holds a key outside the prefix: \(scrubbed(encoded))",
                        attempts: 1)
                }
                keys.append(String(key.dropFirst(root.count)))
            }
            guard page.isTruncated else { break }
            guard let token = page.nextContinuationToken, token != continuation else {
                throw StorageError.s3(
                    operation: "list", url: display, status: 200,
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
        var keys: [String]
        var isTruncated: Bool
        var nextContinuationToken: String?

        /// Reads `xml`, a `ListBucketResult`.
        init(xml: String) {
            let result = S3XML(xml)
            keys = result.elements("Key")
            isTruncated = result.element("IsTruncated") == "true"
            nextContinuationToken = result.element("NextContinuationToken")
        }
    }
}

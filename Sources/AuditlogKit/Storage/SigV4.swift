import Crypto
public import Foundation

/// Signs requests with AWS Signature Version 4, in headers or in a
/// presigned URL.
///
/// Paths are given decoded and encoded here the way S3 wants them: each
/// segment percent-encoded once, `/` kept, no dot-segment normalisation.
public struct SigV4: Sendable {
    /// The payload hash of a presigned URL, whose body is not known.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// The longest a presigned URL may stay valid: 7 days.
    public static let maximumExpiry = 7 * 24 * 3600

    /// The keys to sign with.
    public var credentials: AWSCredentials
    /// The region, such as `us-east-1`.
    public var region: String
    /// The service, `s3` for S3.
    public var service: String

    /// Creates a signer.
    public init(credentials: AWSCredentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Returns `headers` with `x-amz-date`, `x-amz-security-token` (for
    /// temporary credentials) and `Authorization` added, all of them signed.
    ///
    /// - Parameters:
    ///   - method: The HTTP method, such as `PUT`.
    ///   - path: The decoded path, starting with `/`.
    ///   - query: The decoded query parameters.
    ///   - headers: The headers to sign, `host` among them. S3 also wants
    ///     `x-amz-content-sha256`, set to `payloadHash`.
    ///   - payloadHash: The lowercase hex SHA-256 of the body (see
    ///     ``hexSHA256(_:)``) or ``unsignedPayload``.
    ///   - date: The signing time; the signature is valid for 15 minutes.
    public func sign(
        method: String,
        path: String,
        query: [(name: String, value: String)] = [],
        headers: [String: String],
        payloadHash: String,
        date: Date = Date()
    ) -> [String: String] {
        let timestamp = Self.timestamp(date)
        var headers = headers
        headers["x-amz-date"] = timestamp
        if let token = credentials.sessionToken { headers["x-amz-security-token"] = token }
        let canonical = canonicalRequest(
            method: method, path: path, query: query, headers: headers,
            payloadHash: payloadHash)
        let signature = self.signature(of: stringToSign(canonical.request, timestamp: timestamp), timestamp: timestamp)
        headers["Authorization"] =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope(timestamp)), "
            + "SignedHeaders=\(canonical.signedHeaders), Signature=\(signature)"
        return headers
    }

    /// Returns a URL that allows `method` on `path` without credentials
    /// until `expires` seconds after `date`: query-string authentication
    /// with only `host` signed and an unsigned payload.
    ///
    /// - Parameters:
    ///   - endpoint: The scheme and authority, such as
    ///     `https://examplebucket.s3.amazonaws.com` or
    ///     `http://127.0.0.1:9000`; its authority is the signed `host`.
    ///   - path: The decoded path, starting with `/`.
    ///   - expires: Seconds the URL stays valid, 1 to ``maximumExpiry``;
    ///     24 hours unless told.
    /// - Throws: ``StorageError/invalidExpiry(_:)`` for an `expires` out of
    ///   range, ``StorageError/unsupportedURL(_:)`` for an endpoint without
    ///   a host.
    public func presignedURL(
        method: String = "GET",
        endpoint: String,
        path: String,
        query: [(name: String, value: String)] = [],
        expires: Int = 86_400,
        date: Date = Date()
    ) throws -> String {
        guard (1...Self.maximumExpiry).contains(expires) else { throw StorageError.invalidExpiry(expires) }
        let endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        guard let host = Self.authority(of: endpoint) else { throw StorageError.unsupportedURL(endpoint) }
        let timestamp = Self.timestamp(date)
        var query = query
        query += [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope(timestamp))"),
            ("X-Amz-Date", timestamp),
            ("X-Amz-Expires", String(expires)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        if let token = credentials.sessionToken { query.append(("X-Amz-Security-Token", token)) }
        let canonical = canonicalRequest(
            method: method, path: path, query: query, headers: ["host": host],
            payloadHash: Self.unsignedPayload)
        let signature = self.signature(of: stringToSign(canonical.request, timestamp: timestamp), timestamp: timestamp)
        return endpoint + Self.encodePath(path) + "?" + canonical.query + "&X-Amz-Signature=" + signature
    }

    /// The lowercase hex SHA-256 of `bytes`.
    public static func hexSHA256(_ bytes: some Sequence<UInt8>) -> String {
        hex(SHA256.hash(data: Array(bytes)))
    }

    /// `query` as SigV4 signs it: names and values percent-encoded, sorted
    /// by name and then value, joined with `&`. Sending the query in this
    /// very form keeps what is sent and what is signed the same.
    public static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map {
            (percentEncode($0.name), percentEncode($0.value))
        }
        return
            encoded
            .sorted { $0.name == $1.name ? $0.value < $1.value : $0.name < $1.name }
            .map { "\($0.name)=\($0.value)" }
            .joined(separator: "&")
    }

    /// `path` with each segment percent-encoded once, as S3 signs and
    /// expects it.
    public static func encodePath(_ path: String) -> String {
        percentEncode(path, keeping: "/")
    }

    // MARK: - Steps, internal for the tests

    /// The canonical request, with its signed headers and canonical query.
    func canonicalRequest(
        method: String,
        path: String,
        query: [(name: String, value: String)],
        headers: [String: String],
        payloadHash: String
    ) -> (request: String, signedHeaders: String, query: String) {
        let canonicalQuery = Self.canonicalQuery(query)
        let canonicalHeaders =
            headers
            .map { (name: $0.key.lowercased(), value: Self.trimmed($0.value)) }
            .sorted { $0.name < $1.name }
        let signedHeaders = canonicalHeaders.map(\.name).joined(separator: ";")
        let request = [
            method,
            Self.encodePath(path),
            canonicalQuery,
            canonicalHeaders.map { "\($0.name):\($0.value)\n" }.joined(),
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        return (request, signedHeaders, canonicalQuery)
    }

    /// The string to sign for `canonicalRequest` at `timestamp`
    /// (`yyyyMMdd'T'HHmmss'Z'`).
    func stringToSign(_ canonicalRequest: String, timestamp: String) -> String {
        ["AWS4-HMAC-SHA256", timestamp, scope(timestamp), Self.hexSHA256(canonicalRequest.utf8)].joined(separator: "\n")
    }

    /// The hex signature of `stringToSign` with the key derived for the
    /// day of `timestamp`.
    func signature(of stringToSign: String, timestamp: String) -> String {
        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [String(timestamp.prefix(8)), region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    /// `date/region/service/aws4_request`.
    func scope(_ timestamp: String) -> String {
        "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request"
    }

    /// `date` as `yyyyMMdd'T'HHmmss'Z'` in UTC.
    static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    // MARK: - Helpers

    /// `host[:port]` of `scheme://host[:port]`.
    private static func authority(of endpoint: String) -> String? {
        guard let components = URLComponents(string: endpoint), let host = components.host, !host.isEmpty else {
            return nil
        }
        return components.port.map { "\(host):\($0)" } ?? host
    }

    /// `text` with every byte but the unreserved characters and `keeping`
    /// percent-encoded in uppercase hex.
    private static func percentEncode(_ text: String, keeping: String = "") -> String {
        let kept = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8).union(keeping.utf8)
        var encoded = ""
        for byte in text.utf8 {
            if kept.contains(byte) {
                encoded.append(Character(Unicode.Scalar(byte)))
            } else {
                encoded += String(format: "%%%02X", byte)
            }
        }
        return encoded
    }

    /// A header value without surrounding spaces and with runs of spaces
    /// reduced to one.
    private static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    private static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}

public import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Objects in an S3 bucket, or one of an S3-compatible server: the storage
/// for `s3://bucket/prefix` URLs.
///
/// A key is stored as `prefix/key`. Each ``put(key:data:)`` is a single
/// signed `PUT Object`, which S3 applies all or nothing; the body's SHA-256
/// is signed too, so S3 rejects a body damaged on the way. Requests that
/// fail for a reason that may pass are retried as ``retry`` says.
public struct S3Storage: ObjectStorage {
    /// The bucket.
    public let bucket: String
    /// The key prefix, without leading or trailing `/`; may be empty.
    public let prefix: String
    /// The credentials, region and endpoint.
    public let configuration: S3Configuration
    /// How failed requests are retried.
    public var retry: S3RetryPolicy
    /// The size at which ``concatenate(_:into:afterEachPart:)`` sends a part of a
    /// multipart upload; S3 refuses parts under 5 MiB but the last, so a
    /// smaller value counts as 5 MiB. With the 10,000 parts S3 allows, the
    /// default of 16 MiB makes objects of up to 160 GB.
    public var partSize = 16 * 1024 * 1024

    /// Creates a storage for `url`, `s3://bucket` or `s3://bucket/prefix`.
    ///
    /// - Throws: ``StorageError/unsupportedURL(_:)`` when `url` is not of
    ///   that form.
    public init(url: String, configuration: S3Configuration, retry: S3RetryPolicy = S3RetryPolicy()) throws {
        guard url.hasPrefix("s3://") else { throw StorageError.unsupportedURL(url) }
        let rest = url.dropFirst("s3://".count)
        let bucket = rest.prefix { $0 != "/" }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-")
        guard (3...63).contains(bucket.count), bucket.allSatisfy(allowed.contains),
            let prefix = rest.dropFirst(bucket.count).removingPercentEncoding
        else {
            throw StorageError.unsupportedURL(url)
        }
        self.bucket = String(bucket)
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
        self.configuration = configuration
        self.retry = retry
    }

    public func put(key: String, data: [UInt8]) async throws {
        _ = try await send("PUT", key: key, body: data, accept: [200], operation: "put")
    }

    public func get(key: String) async throws -> [UInt8]? {
        let response = try await send("GET", key: key, accept: [200, 404], operation: "get")
        return response.status == 404 ? nil : response.body
    }

    /// Deletes the object under `key`; S3 answers the same whether or not
    /// there was one.
    public func delete(key: String) async throws {
        _ = try await send("DELETE", key: key, accept: [200, 204, 404], operation: "delete")
    }

    /// A presigned `GET` link valid for `expires` seconds from `date` (see
    /// ``presignedURL(key:expires:date:)``), or `nil` with temporary
    /// credentials: their link would carry the session token, a secret,
    /// into the database and whatever prints the link.
    public func downloadLink(key: String, expires: Int, date: Date) throws -> String? {
        guard configuration.credentials.sessionToken == nil else { return nil }
        return try presignedURL(key: key, expires: expires, date: date)
    }

    /// A URL that downloads the object under `key` without credentials
    /// until `expires` seconds from `date`.
    ///
    /// - Throws: ``StorageError/invalidKey(_:)`` or
    ///   ``StorageError/invalidExpiry(_:)``.
    public func presignedURL(key: String, expires: Int = 86_400, date: Date = Date()) throws -> String {
        try ObjectKey.validate(key)
        let location = location(of: key)
        return try signer.presignedURL(endpoint: location.endpoint, path: location.path, expires: expires, date: date)
    }

    /// `s3://bucket/prefix/key`, for messages and the database.
    public func displayURL(of key: String) -> String {
        "s3://\(bucket)/" + (prefix.isEmpty ? key : prefix + "/" + key)
    }

    /// The content type of the object under `key`, from its extension.
    static func contentType(of key: String) -> String {
        if key.hasSuffix(".gz") { return "application/gzip" }
        if key.hasSuffix(".ndjson") { return "application/x-ndjson" }
        if key.hasSuffix(".csv") { return "text/csv" }
        return "application/octet-stream"
    }

    private var signer: SigV4 {
        SigV4(credentials: configuration.credentials, region: configuration.region)
    }

    /// The endpoint and decoded path of `key`: path-style under a custom
    /// endpoint, virtual-host style at AWS.
    private func location(of key: String) -> (endpoint: String, path: String) {
        let object = prefix.isEmpty ? key : prefix + "/" + key
        if let endpoint = configuration.endpoint {
            return (endpoint, "/\(bucket)/\(object)")
        }
        return ("https://\(bucket).s3.\(configuration.region).amazonaws.com", "/" + object)
    }

    /// A response to a request that ``send(_:key:query:body:contentType:accept:operation:)``
    /// accepted.
    struct Response {
        /// The HTTP status.
        var status: Int
        /// The body.
        var body: [UInt8]
        /// The `ETag` header, if any.
        var etag: String?
    }

    /// Sends a signed request for `key`, retrying as ``retry`` says, and
    /// returns a response whose status is in `accept`.
    ///
    /// - Parameters:
    ///   - query: Decoded query parameters, such as `uploadId`.
    ///   - contentType: The content type to send; by default the key's when
    ///     there is a body.
    ///   - operation: What the request does, for error messages: `put`,
    ///     `get`, `delete`, `complete the upload of`, ...
    func send(
        _ method: String,
        key: String,
        query: [(name: String, value: String)] = [],
        body: [UInt8]? = nil,
        contentType: String? = nil,
        accept: Set<Int>,
        operation: String
    ) async throws -> Response {
        try ObjectKey.validate(key)
        return try await send(
            method, location: location(of: key), query: query, display: displayURL(of: key), operation: operation,
            contentType: contentType ?? body.map { _ in Self.contentType(of: key) }, body: body, accept: accept
        )
    }

    /// Sends a signed request to `location` with `query`, retrying as
    /// ``retry`` says, and returns a response whose status is in `accept`.
    /// `display` and `operation` name the request in errors.
    func send(
        _ method: String,
        location: (endpoint: String, path: String),
        query: [(name: String, value: String)],
        display: String,
        operation: String,
        contentType: String?,
        body: [UInt8]?,
        accept: Set<Int>
    ) async throws -> Response {
        let queryString = query.isEmpty ? "" : "?" + SigV4.canonicalQuery(query)
        guard let url = URL(string: location.endpoint + SigV4.encodePath(location.path) + queryString),
            let host = Self.host(of: url)
        else {
            throw StorageError.s3(
                operation: operation, url: display, status: nil,
                reason: "invalid endpoint \(location.endpoint)", attempts: 0)
        }
        let payloadHash = SigV4.hexSHA256(body ?? [])
        var attempt = 0
        while true {
            attempt += 1
            var headers = ["host": host, "x-amz-content-sha256": payloadHash]
            if let contentType { headers["content-type"] = contentType }
            var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 60)
            request.httpMethod = method
            request.httpBody = body.map { Data($0) }
            for (name, value) in signer.sign(
                method: method, path: location.path, query: query, headers: headers,
                payloadHash: payloadHash) where name != "host"
            {
                request.setValue(value, forHTTPHeaderField: name)
            }

            let failure: StorageError
            let retryable: Bool
            do {
                let (data, response) = try await Self.session.data(for: request)
                let http = response as? HTTPURLResponse
                let status = http?.statusCode ?? 0
                if accept.contains(status) {
                    let etag = http?.allHeaderFields.first { ($0.key as? String)?.lowercased() == "etag" }?.value
                    return Response(status: status, body: [UInt8](data), etag: etag as? String)
                }
                failure = .s3(
                    operation: operation, url: display, status: status,
                    reason: scrubbed(Self.reason(status: status, body: data)), attempts: attempt)
                retryable = status >= 500 || status == 429
            } catch let error as URLError where error.code != .cancelled {
                failure = .s3(
                    operation: operation, url: display, status: nil,
                    reason: scrubbed(Self.reason(error)), attempts: attempt)
                retryable = true
            }
            guard retryable, attempt < retry.maxAttempts else { throw failure }
            try await Task.sleep(for: retry.delay(after: attempt))
        }
    }

    /// `text` on one line, without the secret key or session token.
    func scrubbed(_ text: String) -> String {
        var text = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        let secrets = [configuration.credentials.secretAccessKey, configuration.credentials.sessionToken ?? ""]
        for secret in secrets where !secret.isEmpty {
            text = text.replacingOccurrences(of: secret, with: "[redacted]")
        }
        return text.count > 300 ? text.prefix(300) + "…" : text
    }

    /// The `Host` header for `url`: its host, with the port unless it is
    /// the scheme's default.
    private static func host(of url: URL) -> String? {
        guard let host = url.host, !host.isEmpty else { return nil }
        guard let port = url.port, port != (url.scheme == "https" ? 443 : 80) else { return host }
        return "\(host):\(port)"
    }

    /// The error code and message of an S3 error response, or the status's
    /// name when the body is not one.
    static func reason(status: Int, body: Data) -> String {
        let error = S3XML(body)
        switch (error.element("Code"), error.element("Message")) {
        case (let code?, let message?): return "\(code): \(message)"
        case (let code?, nil): return code
        default: return HTTPURLResponse.localizedString(forStatusCode: status)
        }
    }

    private static func reason(_ error: URLError) -> String {
        switch error.code {
        case .cannotConnectToHost: return "cannot connect to the server"
        case .cannotFindHost, .dnsLookupFailed: return "cannot resolve the server's name"
        case .timedOut: return "the request timed out"
        case .networkConnectionLost: return "the connection was lost"
        default: return "network error \(error.code.rawValue)"
        }
    }

    /// One session for all storages: it keeps connections open between
    /// requests and caches nothing.
    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        return URLSession(configuration: configuration)
    }()
}

import Foundation
import Testing

@testable import AuditlogKit

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// ``S3Storage`` against a local HTTP server that answers with the
/// statuses it is given, one per request, repeating the last.
@Suite struct S3RetryTests {
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let token = "FwoGZXIvYXdzEXAMPLE/session+token=="

    /// Answers each request with the next status of `argv[1]` (such as
    /// `503,200`), the last repeating; a 403 echoes the request's
    /// credentials, and the secret in `argv[2]`, in its message, as a server
    /// that leaked them would. `GET …/__requests` answers how many requests
    /// came before.
    static let server = """
        import sys, http.server
        statuses = [int(s) for s in sys.argv[1].split(',')]
        count = 0
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            def log_message(self, *args): pass
            def reply(self, status, body):
                self.send_response(status)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def handle_request(self):
                global count
                self.rfile.read(int(self.headers.get('Content-Length') or 0))
                if self.path.endswith('/__requests'):
                    return self.reply(200, str(count).encode())
                status = statuses[min(count, len(statuses) - 1)]
                count += 1
                body = b''
                if status == 403:
                    body = ('<Error><Code>SignatureDoesNotMatch</Code><Message>The signature does not match.\\n'
                            + self.headers.get('Authorization', '') + '\\ntoken ' + self.headers.get('x-amz-security-token', '')
                            + ' secret ' + sys.argv[2] + '</Message></Error>').encode()
                elif status == 429:
                    body = b'<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>'
                self.reply(status, body)
            do_GET = do_PUT = handle_request
        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """

    /// A storage for a server answering `statuses`, and the server.
    func storage(_ statuses: String, maxAttempts: Int = 4) throws -> (S3Storage, Python.Server) {
        let server = try Python.Server(Self.server, arguments: [statuses, Self.secret])
        return (try storage(port: server.port, maxAttempts: maxAttempts), server)
    }

    func storage(port: Int, maxAttempts: Int = 4) throws -> S3Storage {
        let configuration = S3Configuration(
            credentials: AWSCredentials(
                accessKeyID: "AKIAEXAMPLE", secretAccessKey: Self.secret, sessionToken: Self.token),
            endpoint: "http://127.0.0.1:\(port)"
        )
        return try S3Storage(
            url: "s3://bucket/prefix", configuration: configuration,
            retry: S3RetryPolicy(maxAttempts: maxAttempts, baseDelay: .milliseconds(5)))
    }

    /// How many requests the server has answered, not counting this one.
    func requests(_ storage: S3Storage) async throws -> Int? {
        try await storage.get(key: "__requests").flatMap { Int(String(decoding: $0, as: UTF8.self)) }
    }

    @Test(arguments: ["503,200", "500,502,429,200", "429,503,504,200"])
    func putSucceedsAfterTransientFailures(statuses: String) async throws {
        let (storage, server) = try storage(statuses)
        defer { server.stop() }

        try await storage.put(key: "a.ndjson.gz", data: [1, 2, 3])

        #expect(try await requests(storage) == statuses.split(separator: ",").count)
    }

    @Test func putGivesUpAfterTheLimitOnOneLine() async throws {
        let (storage, server) = try storage("429", maxAttempts: 3)
        defer { server.stop() }

        let error = try await #require(throws: StorageError.self) { try await storage.put(key: "a.gz", data: [1]) }

        #expect(
            error.description == "could not put s3://bucket/prefix/a.gz: HTTP 429: SlowDown: "
                + "Please reduce your request rate. (after 3 attempts)")
        #expect(try await requests(storage) == 3)
    }

    @Test func plainServerErrorsAreNamedByStatus() async throws {
        let (storage, server) = try storage("503", maxAttempts: 2)
        defer { server.stop() }

        let error = try await #require(throws: StorageError.self) { try await storage.get(key: "a.gz") }

        #expect(
            error
                == .s3(
                    operation: "get", url: "s3://bucket/prefix/a.gz", status: 503,
                    reason: HTTPURLResponse.localizedString(forStatusCode: 503), attempts: 2))
        #expect(!error.description.contains("\n"))
    }

    @Test func forbiddenIsNotRetriedAndNeverShowsTheSecretOrToken() async throws {
        let (storage, server) = try storage("403")
        defer { server.stop() }

        let error = try await #require(throws: StorageError.self) { try await storage.put(key: "a.gz", data: [1]) }

        let text = error.description
        #expect(text.hasPrefix("could not put s3://bucket/prefix/a.gz: HTTP 403: SignatureDoesNotMatch: "))
        #expect(text.hasSuffix("(after 1 attempt)"))
        #expect(text.contains("Credential=AKIAEXAMPLE/"), "the server's echo of the request reached the message")
        #expect(!text.contains(Self.secret))
        #expect(!text.contains(Self.token))
        #expect(!text.contains("\n"))
        #expect(try await requests(storage) == 1)
    }

    @Test func connectionErrorsAreRetriedThenReported() async throws {
        let (_, server) = try storage("200")
        server.stop()
        let storage = try storage(port: server.port, maxAttempts: 3)

        let error = try await #require(throws: StorageError.self) { try await storage.put(key: "a.gz", data: [1]) }

        #expect(
            error
                == .s3(
                    operation: "put", url: "s3://bucket/prefix/a.gz", status: nil,
                    reason: "cannot connect to the server", attempts: 3))
    }
}

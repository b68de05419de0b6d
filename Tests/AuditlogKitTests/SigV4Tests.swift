import Foundation
import Testing

@testable import AuditlogKit

@Suite struct SigV4Tests {
    /// The credentials of the AWS Signature Version 4 test suite.
    static let suite = SigV4(
        credentials: AWSCredentials(
            accessKeyID: "AKIDEXAMPLE",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1", service: "service"
    )
    /// The credentials of the S3 documentation's examples
    /// ("Signature Calculations for the Authorization Header" and
    /// "Authenticating Requests: Using Query Parameters").
    static let s3Docs = SigV4(
        credentials: AWSCredentials(
            accessKeyID: "AKIAIOSFODNN7EXAMPLE",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1"
    )
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func date(_ timestamp: String) -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
        return formatter.date(from: timestamp)!
    }

    @Test func timestampsAreUTC() {
        #expect(SigV4.timestamp(Self.date("20150830T123600Z")) == "20150830T123600Z")
        #expect(SigV4.timestamp(Date(timeIntervalSince1970: 0)) == "19700101T000000Z")
    }

    @Test func testSuiteGetVanilla() {
        let headers = Self.suite.sign(
            method: "GET", path: "/", headers: ["Host": "example.amazonaws.com"],
            payloadHash: Self.emptyHash, date: Self.date("20150830T123600Z"))
        #expect(headers["x-amz-date"] == "20150830T123600Z")
        #expect(
            headers["Authorization"]
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=host;x-amz-date, "
                + "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
        let canonical = Self.suite.canonicalRequest(
            method: "GET", path: "/", query: [],
            headers: ["Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"], payloadHash: Self.emptyHash
        )
        #expect(
            canonical.request == """
                GET
                /

                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                \(Self.emptyHash)
                """)
        #expect(
            Self.suite.stringToSign(canonical.request, timestamp: "20150830T123600Z") == """
                AWS4-HMAC-SHA256
                20150830T123600Z
                20150830/us-east-1/service/aws4_request
                bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
                """)
    }

    @Test func testSuiteGetVanillaQueryOrderKeyCase() {
        let headers = Self.suite.sign(
            method: "GET", path: "/",
            query: [("Param2", "value2"), ("Param1", "value1")],
            headers: ["Host": "example.amazonaws.com"],
            payloadHash: Self.emptyHash, date: Self.date("20150830T123600Z"))
        #expect(
            headers["Authorization"]?.hasSuffix(
                "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500") == true)
    }

    @Test func s3DocsGetObject() {
        let headers = Self.s3Docs.sign(
            method: "GET", path: "/test.txt",
            headers: [
                "Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9",
                "x-amz-content-sha256": Self.emptyHash,
            ],
            payloadHash: Self.emptyHash, date: Self.date("20130524T000000Z")
        )
        #expect(
            headers["Authorization"]
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
    }

    @Test func s3DocsPutObjectEncodesThePathOnce() {
        let body = Array("Welcome to Amazon S3.".utf8)
        let payloadHash = SigV4.hexSHA256(body)
        #expect(payloadHash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let headers = Self.s3Docs.sign(
            method: "PUT", path: "/test$file.text",
            headers: [
                "Host": "examplebucket.s3.amazonaws.com", "Date": "Fri, 24 May 2013 00:00:00 GMT",
                "x-amz-storage-class": "REDUCED_REDUNDANCY", "x-amz-content-sha256": payloadHash,
            ],
            payloadHash: payloadHash, date: Self.date("20130524T000000Z")
        )
        #expect(
            headers["Authorization"]
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
                + "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        )
    }

    @Test func s3DocsListObjectsSortsTheQuery() {
        let headers = Self.s3Docs.sign(
            method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")],
            headers: ["Host": "examplebucket.s3.amazonaws.com", "x-amz-content-sha256": Self.emptyHash],
            payloadHash: Self.emptyHash, date: Self.date("20130524T000000Z")
        )
        #expect(
            headers["Authorization"]?.hasSuffix(
                "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") == true)
    }

    @Test func s3DocsPresignedGet() throws {
        let url = try Self.s3Docs.presignedURL(
            endpoint: "https://examplebucket.s3.amazonaws.com", path: "/test.txt",
            date: Self.date("20130524T000000Z"))
        #expect(
            url == "https://examplebucket.s3.amazonaws.com/test.txt"
                + "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                + "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    @Test(arguments: [0, -1, SigV4.maximumExpiry + 1])
    func presignedURLsLastAtMostSevenDays(expires: Int) {
        #expect(throws: StorageError.invalidExpiry(expires)) {
            try Self.s3Docs.presignedURL(endpoint: "https://b.s3.amazonaws.com", path: "/k", expires: expires)
        }
        #expect(
            (try? Self.s3Docs.presignedURL(
                endpoint: "https://b.s3.amazonaws.com", path: "/k",
                expires: SigV4.maximumExpiry)) != nil)
    }

    @Test func pathsAreEncodedOncePerSegment() {
        #expect(SigV4.encodePath("/b/dt=2026-11-23/a b/ü~x_y.z-1+2") == "/b/dt%3D2026-11-23/a%20b/%C3%BC~x_y.z-1%2B2")
    }

    // MARK: - Against botocore

    /// Signs the requests that `requests` describes with botocore at
    /// 2026-11-23T12:34:56Z and returns what it made: for a `PUT`, the
    /// headers of `S3SigV4Auth`; for a `GET`, the URL of
    /// `S3SigV4QueryAuth`.
    static let botocoreSigner = """
        import datetime, json, sys
        from urllib.parse import quote
        import botocore.auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        botocore.auth.get_current_datetime = lambda *a, **k: datetime.datetime(2026, 11, 23, 12, 34, 56)
        out = []
        for r in json.load(sys.stdin):
            creds = Credentials(r["key"], r["secret"], r.get("token"))
            url = r["endpoint"] + quote(r["path"], safe="/~")
            if r["method"] == "PUT":
                req = AWSRequest(method="PUT", url=url, data=r["body"].encode(), headers={"Content-Type": r["type"]})
                req.context["payload_signing_enabled"] = True
                botocore.auth.S3SigV4Auth(creds, "s3", r["region"]).add_auth(req)
                out.append({k.lower(): v for k, v in req.headers.items()})
            else:
                req = AWSRequest(method="GET", url=url)
                botocore.auth.S3SigV4QueryAuth(creds, "s3", r["region"], expires=r["expires"]).add_auth(req)
                out.append({"url": req.url})
        print(json.dumps(out))
        """

    struct BotocoreCase: Sendable, CustomTestStringConvertible {
        var endpoint: String
        var host: String
        var path: String
        var token: String?
        var testDescription: String { "\(endpoint)\(path)\(token == nil ? "" : " with a session token")" }
    }

    @Test(arguments: [
        BotocoreCase(
            endpoint: "https://audit-exports.s3.eu-west-3.amazonaws.com",
            host: "audit-exports.s3.eu-west-3.amazonaws.com",
            path: "/audit/dt=2026-11-23/main-01a2.ndjson.gz",
            token: "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+token/with+slashes="),
        BotocoreCase(
            endpoint: "http://127.0.0.1:9000", host: "127.0.0.1:9000",
            path: "/bucket/prefix/a key with spaces/ünïcødé/x=y&z~.ndjson", token: nil),
    ])
    func matchesBotocore(_ example: BotocoreCase) throws {
        let credentials = AWSCredentials(
            accessKeyID: "AKIAEXAMPLEBOTOCORE", secretAccessKey: "s3cr3t/Key+EXAMPLE",
            sessionToken: example.token)
        let signer = SigV4(credentials: credentials, region: "eu-west-3")
        let body = "{\"id\":1}\n{\"id\":2}\n"
        let date = Self.date("20261123T123456Z")
        var request: [String: Any] = [
            "key": credentials.accessKeyID, "secret": credentials.secretAccessKey, "region": signer.region,
            "endpoint": example.endpoint, "path": example.path, "body": body, "type": "application/x-ndjson",
            "expires": 3600,
        ]
        if let token = example.token { request["token"] = token }
        var presign = request
        request["method"] = "PUT"
        presign["method"] = "GET"
        let input = String(decoding: try JSONSerialization.data(withJSONObject: [request, presign]), as: UTF8.self)
        let output = try Python.run(Self.botocoreSigner, input: input)
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: String]])

        let payloadHash = SigV4.hexSHA256(body.utf8)
        let headers = signer.sign(
            method: "PUT", path: example.path,
            headers: [
                "host": example.host, "content-type": "application/x-ndjson", "x-amz-content-sha256": payloadHash,
            ],
            payloadHash: payloadHash, date: date
        )
        #expect(expected[0]["authorization"] == headers["Authorization"])
        #expect(expected[0]["x-amz-content-sha256"] == payloadHash)
        #expect(expected[0]["x-amz-date"] == headers["x-amz-date"])
        #expect(expected[0]["x-amz-security-token"] == headers["x-amz-security-token"])

        let url = try signer.presignedURL(endpoint: example.endpoint, path: example.path, expires: 3600, date: date)
        let botocoreURL = try #require(expected[1]["url"])
        #expect(Self.split(url).base == Self.split(botocoreURL).base)
        #expect(Self.split(url).query == Self.split(botocoreURL).query)
        #expect(Self.split(url).query.contains { $0.hasPrefix("X-Amz-Signature=") })
    }

    /// A URL's part before `?`, and its query parameters sorted, since
    /// botocore orders them differently.
    static func split(_ url: String) -> (base: Substring, query: [Substring]) {
        let parts = url.split(separator: "?", maxSplits: 1)
        return (parts[0], parts.count > 1 ? parts[1].split(separator: "&").sorted() : [])
    }
}

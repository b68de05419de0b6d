import AuditlogKit
import Testing

@Suite struct ListenAddressTests {
    @Test(arguments: [
        ("127.0.0.1:9187", "127.0.0.1", 9187), ("localhost:0", "localhost", 0),
        ("0.0.0.0:65535", "0.0.0.0", 65535), ("[::1]:9187", "::1", 9187),
    ])
    func parses(text: String, host: String, port: Int) {
        #expect(ListenAddress(parsing: text) == ListenAddress(host: host, port: port))
        #expect(ListenAddress(parsing: text)?.description == text)
    }

    @Test(arguments: [
        "", "9187", ":9187", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+1",
        "::1:9187", "[127.0.0.1]:80", "host name:80", "127.0.0.1:9187x", "127.0.0.1:٣",
    ])
    func rejects(text: String) {
        #expect(ListenAddress(parsing: text) == nil)
    }
}

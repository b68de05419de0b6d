import Foundation

/// A proxy in front of an S3-compatible server that injects faults: it
/// answers some requests with 500 instead of forwarding them, and can hang
/// one upload so that a test can kill the uploader in the middle of it.
///
/// `GET /__state` answers `{"requests": n, "failed": n, "hanging": bool}`.
final class FaultyS3Proxy {
    /// What to do to requests, by their number (1 for the first).
    struct Faults: Encodable {
        /// Answer 500 to the first this many requests.
        var failFirst = 0
        /// After those, answer 500 to every request whose number is a
        /// multiple of this (0: none).
        var failEvery = 0
        /// Hang the PUT with this number (counting PUTs only, from 1)
        /// until the client goes away, without forwarding it (0: none).
        var hangPut = 0
    }

    private let server: Python.Server

    /// The proxy's endpoint, for `AWS_ENDPOINT_URL_S3`.
    var endpoint: String { "http://127.0.0.1:\(server.port)" }

    init(upstream: String, faults: Faults) throws {
        let configuration = String(decoding: try JSONEncoder().encode(faults), as: UTF8.self)
        server = try Python.Server(Self.script, arguments: [upstream, configuration])
    }

    /// How many requests came, how many were failed, and whether an upload
    /// is hanging now.
    func state() throws -> (requests: Int, failed: Int, hanging: Bool) {
        let data = try Data(contentsOf: URL(string: endpoint + "/__state")!)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        return (object["requests"] as! Int, object["failed"] as! Int, object["hanging"] as! Bool)
    }

    func stop() {
        server.stop()
    }

    private static let script = """
        import http.client, json, sys, threading, time, urllib.parse
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        upstream = urllib.parse.urlsplit(sys.argv[1])
        faults = json.loads(sys.argv[2])
        lock = threading.Lock()
        state = {'requests': 0, 'failed': 0, 'puts': 0, 'hanging': False}
        class Proxy(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            def log_message(self, *args): pass
            def reply(self, status, body, headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def handle_any(self):
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                if self.path == '/__state':
                    with lock:
                        return self.reply(200, json.dumps(state).encode())
                with lock:
                    state['requests'] += 1
                    n = state['requests']
                    if self.command == 'PUT':
                        state['puts'] += 1
                    hang = self.command == 'PUT' and state['puts'] == faults['hangPut']
                    fail = n <= faults['failFirst'] or (faults['failEvery'] and n % faults['failEvery'] == 0)
                    if fail:
                        state['failed'] += 1
                if hang:
                    state['hanging'] = True
                    while True:  # until the client is killed and the test ends
                        time.sleep(1)
                if fail:
                    return self.reply(500, b'<Error><Code>InternalError</Code><Message>injected</Message></Error>')
                connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
                connection.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
                response = connection.getresponse()
                payload = response.read()
                headers = [(k, v) for k, v in response.getheaders()
                           if k.lower() not in ('content-length', 'transfer-encoding', 'connection')]
                self.reply(response.status, payload, headers)
            do_GET = do_PUT = do_POST = do_DELETE = handle_any
        server = ThreadingHTTPServer(('127.0.0.1', 0), Proxy)
        server.daemon_threads = True
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """
}

"""A fault-injecting HTTP proxy in front of an S3-compatible server.

For a fraction of requests it answers 500 InternalError or 503 SlowDown
instead of forwarding, delays the request, or resets the connection without
an answer; the rest pass through unchanged. Faults are drawn from a seeded
random generator and can be switched off for the final drain.
"""
import http.client
import random
import socket
import struct
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FaultProxy:
    def __init__(self, upstream, seed, fault_rate=0.12):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.fault_rate = fault_rate
        self.enabled = True
        self.counts = {"requests": 0, "500": 0, "503": 0, "slow": 0, "reset": 0}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body, headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = proxy.draw()
                if fault == "500":
                    return self.reply(500, b"<Error><Code>InternalError</Code><Message>chaos</Message></Error>")
                if fault == "503":
                    return self.reply(503, b"<Error><Code>SlowDown</Code><Message>chaos</Message></Error>")
                if fault == "reset":
                    # An abrupt close: RST instead of FIN, no answer.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault == "slow":
                    time.sleep(proxy.rng.uniform(0.3, 1.5))
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                upstream.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
                response = upstream.getresponse()
                payload = response.read()
                headers = [(k, v) for k, v in response.getheaders()
                           if k.lower() not in ("content-length", "transfer-encoding", "connection")]
                self.reply(response.status, payload, headers)

            do_GET = do_PUT = do_POST = do_DELETE = handle_any

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client killed mid-request is part of the plan

        self.server = Server(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def draw(self):
        with self.lock:
            self.counts["requests"] += 1
            if not self.enabled or self.rng.random() >= self.fault_rate:
                return None
            fault = self.rng.choice(["500", "503", "slow", "reset"])
            self.counts[fault] += 1
            return fault

    def faults(self):
        with self.lock:
            return sum(v for k, v in self.counts.items() if k != "requests")

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

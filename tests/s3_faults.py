"""A loopback HTTP proxy in front of the moto S3 server that injects faults into chosen requests.

Real network faults as boto3 sees them (no patched methods): an error response, or a connection
closed without any response. The client's retry policy and the pipeline's error handling must cope.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_DOWN = (503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")
INTERNAL_ERROR = (500, b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>")
DROP = "drop"  # close the connection without answering

# fault(n, method, path) -> None to relay the request, DROP, or (status, XML body) to answer with.
Fault = Callable[[int, str, str], "tuple[int, bytes] | str | None"]


def on_requests(numbers: set[int], answer=SLOW_DOWN) -> Fault:
    """Fail the requests with these 1-based sequence numbers."""
    return lambda n, method, path: answer if n in numbers else None


class FaultyS3Proxy:
    def __init__(self, upstream: str, fault: Fault):
        self.upstream = upstream.removeprefix("http://")
        self.fault = fault
        self.seen = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultyS3Proxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _decide(self, method: str, path: str):
        with self._lock:
            self.seen += 1
            decision = self.fault(self.seen, method, path)
            self.failed += decision is not None
            return decision

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                decision = proxy._decide(self.command, self.path)
                if decision == DROP:
                    self.close_connection = True
                    self.connection.close()
                    return
                if decision is not None:
                    status, error = decision
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(error)))
                    self.end_headers()
                    self.wfile.write(error)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)
                upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                response = upstream.getresponse()
                payload = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in {"transfer-encoding", "content-length", "connection"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                upstream.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay

        return Handler

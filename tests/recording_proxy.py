"""A recording HTTP proxy in front of the emulator: what the provider really sent.

Terraform's AWS provider is pointed at the proxy (``AWS_ENDPOINT_URL``); each request
is forwarded unchanged to the emulator and kept, with the emulator's status. A shim is
only a shim when the request was right: these records are how the tests show it.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Hop-by-hop headers (RFC 9110 section 7.6.1) are the proxy's own, never forwarded.
_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"})


@dataclass(frozen=True)
class Recorded:
    """One request as the client sent it, and the status the emulator answered."""

    method: str
    path: str
    target: str  # X-Amz-Target of JSON protocols ("AmazonEC2ContainerServiceV20141113.CreateService"), or ""
    body: bytes
    status: int

    @property
    def operation(self) -> str:
        """The operation of a JSON-protocol request: ``CreateService``."""
        return self.target.rpartition(".")[2]

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=120)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            reply = upstream.getresponse()
            data = reply.read()
        finally:
            upstream.close()
        self.server.record(Recorded(self.command, self.path, self.headers.get("X-Amz-Target", ""), body, reply.status))
        self.send_response(reply.status)
        for key, value in reply.getheaders():
            if key.lower() not in _HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream_port = upstream_port
        self.records: list[Recorded] = []
        self._lock = threading.Lock()

    def record(self, rec: Recorded) -> None:
        with self._lock:
            self.records.append(rec)


@dataclass
class Proxy:
    """A running proxy: its endpoint, and the requests it has seen so far."""

    server: _Server

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def requests(self, operation: str) -> list[Recorded]:
        """The JSON-protocol requests of ``operation`` (``CreateService``), in order, of every service."""
        with self.server._lock:
            return [r for r in self.server.records if r.operation == operation]


@contextmanager
def recording_proxy(upstream_port: int) -> Iterator[Proxy]:
    """Forward 127.0.0.1:<free port> to the emulator on ``upstream_port``, recording every request."""
    server = _Server(upstream_port)
    thread = threading.Thread(target=server.serve_forever, name="recording-proxy", daemon=True)
    thread.start()
    try:
        yield Proxy(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

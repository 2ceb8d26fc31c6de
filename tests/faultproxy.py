"""A fault-injecting HTTP proxy of our own, between `lake` (boto3, pyarrow, DuckDB httpfs) and moto.

Point a profile's `s3.endpoint` at `proxy.endpoint`. Every request is forwarded unchanged to the
upstream S3 server, unless a `Fault` rule matches it first:

    with FaultProxy(moto.endpoint) as proxy:
        proxy.add(Fault("PUT", r"/data/", action="503", times=2))   # two SlowDowns, then fine
        proxy.add(Fault("PUT", r"/data/", query="partNumber", action="drop"))  # every part, forever
        proxy.add(Fault("GET", r"metadata", action="slow", delay=0.5))
        proxy.add(Fault("PUT", r"/data/", action="hold"))  # wait; `proxy.held` is set; `release()`

Actions: `500` (InternalError), `503` (SlowDown), `403` (AccessDenied: a refused key), `drop` (connection closed, no response), `slow`
(forward after `delay` seconds), `hold` (block until `release()`, so a test can kill the client
exactly while it is writing). `times=None` means persistent. `proxy.requests` records every request
with the status it got (`None` for a dropped one). Threaded, with a bound on concurrent requests
and on body size, so a runaway client cannot exhaust the test machine.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MAX_BODY = 256 * 1024 * 1024
MAX_CONCURRENT = 64
_ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "SlowDown", "Please reduce your request rate."),
    "403": (403, "AccessDenied", "Access Denied"),
}
_HOP_BY_HOP = {
    "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "expect",
}  # fmt: skip


@dataclass
class Fault:
    """Fail requests whose method and path (a regex) match, and whose query contains `query`."""

    method: str
    path: str = ""
    query: str = ""
    action: str = "503"
    times: int | None = 1
    delay: float = 0.0
    hits: int = 0

    def matches(self, method: str, path: str, query: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return (
            method == self.method.upper()
            and re.search(self.path, path) is not None
            and (not self.query or self.query in query)
        )


@dataclass
class Request:
    method: str
    path: str
    query: str
    status: int | None
    fault: str | None = None


@dataclass
class FaultProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)
        self.held = threading.Event()  # set while a `hold` fault is holding a request
        self._release = threading.Event()
        parts = urlsplit(self.upstream)
        self._upstream_host, self._upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def release(self) -> None:
        """Let held requests through (and all later `hold` matches)."""
        self._release.set()

    def count(self, method: str | None = None, path: str = "", status: int | None | str = "any") -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method)
                and re.search(path, r.path)
                and (status == "any" or r.status == status)
            )

    def faulted(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.fault]

    # -------------------------------------------------------------- internals

    def _match(self, method: str, path: str, query: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path, query):
                    fault.hits += 1
                    return fault
        return None

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list, bytes]:
        con = http.client.HTTPConnection(self._upstream_host, self._upstream_port, timeout=120)
        try:
            con.request(
                method, target, body=body if body or method in ("PUT", "POST") else None, headers=headers
            )
            response = con.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            con.close()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks, total = [], 0
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    total += size
                    if total > MAX_BODY:
                        raise ValueError("request body too large for the fault proxy")
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise ValueError("request body too large for the fault proxy")
            return self.rfile.read(length) if length else b""

        def _handle(self) -> None:
            with proxy._slots:
                self._handle_one()

        def _handle_one(self) -> None:
            method = self.command
            path, _, query = self.path.partition("?")
            body = self._body()
            fault = proxy._match(method, path, query)
            if fault is not None and fault.action == "hold":
                proxy.held.set()
                proxy._release.wait()
                fault = None
            if fault is not None and fault.action == "slow":
                time.sleep(fault.delay)
                fault_name: str | None = "slow"
                fault = None
            else:
                fault_name = None if fault is None else fault.action
            if fault is not None and fault.action == "drop":
                proxy._record(Request(method, path, query, None, "drop"))
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None:
                status, code, message = _ERRORS[fault.action]
                payload = (
                    f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                    f"<Message>{message}</Message><Resource>{path}</Resource></Error>"
                ).encode()
                proxy._record(Request(method, path, query, status, fault.action))
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            if body or method in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            status, response_headers, payload = proxy._forward(method, self.path, headers, body)
            proxy._record(Request(method, path, query, status, fault_name))
            self.send_response(status)
            length = str(len(payload))
            for key, value in response_headers:
                if key.lower() == "content-length" and method == "HEAD":
                    length = value  # a HEAD answers with the object's size and no body
                elif key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", length)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    return Handler

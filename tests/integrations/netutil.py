"""Real networking for the partner-side tests: the app served on 127.0.0.1, and a flaky TCP proxy.

The proxy sits between the client and the server like a load balancer on a bad day. For each connection it
reads one HTTP request and, by its policy, forwards it and passes the answer back, forwards it and then
drops the connection before the answer (the server did the work, the client never hears), drops the
connection before forwarding, or answers 503 or 429 with ``Retry-After`` itself.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

from werkzeug.serving import make_server


@dataclass
class Partner:
    """A partner client authorised by one association."""

    tenant_id: int
    partner_id: int
    client_id: str
    secret: str
    orgnr: str
    association_id: int


class LiveServer:
    """A WSGI app served by werkzeug on 127.0.0.1 in a thread."""

    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        # Join the request threads on close, so their database sessions are returned before teardown.
        self.server.daemon_threads = False
        self.server.block_on_close = True
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _read_request(sock: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    lines = head.split(b"\r\n")
    kept = [lines[0]]
    for line in lines[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name == b"content-length":
            length = int(line.split(b":", 1)[1])
        if name in (b"connection", b"keep-alive"):
            continue
        kept.append(line)
    kept.append(b"Connection: close")
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return b"\r\n".join(kept) + b"\r\n\r\n" + body


def _exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as up:
        up.sendall(request)
        out = b""
        while True:
            chunk = up.recv(65536)
            if not chunk:
                return out
            out += chunk


_BODY_503 = b'{"code": 503, "status": "Service Unavailable", "message": "overloaded, try again"}'
SERVICE_UNAVAILABLE = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Type: application/json\r\n"
                       b"Content-Length: " + str(len(_BODY_503)).encode() + b"\r\nConnection: close\r\n\r\n" + _BODY_503)


_BODY_429 = b'{"code": 429, "status": "Too Many Requests", "message": "slow down"}'
TOO_MANY_REQUESTS = (b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(_BODY_429)).encode() + b"\r\nConnection: close\r\n\r\n" + _BODY_429)


class FlakyProxy:
    """``policy(n, request_line) -> "forward" | "drop_after" | "drop_before" | "503" | "429"`` per request."""

    def __init__(self, upstream_port: int, policy: Callable[[int, bytes], str]) -> None:
        self.upstream = upstream_port
        self.policy = policy
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log: list[tuple[str, bytes, str | None]] = []  # (what was done, request line, Idempotency-Key)
        self._n = 0
        self._lock = threading.Lock()
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(30)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            request = _read_request(conn)
            if request is None:
                return
            line = request.split(b"\r\n", 1)[0]
            key = None
            for h in request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
                if h.lower().startswith(b"idempotency-key:"):
                    key = h.split(b":", 1)[1].strip().decode()
            with self._lock:
                n = self._n
                self._n += 1
            action = self.policy(n, line)
            with self._lock:
                self.log.append((action, line, key))
            if action == "drop_before":
                return
            if action in ("503", "429"):
                conn.sendall(SERVICE_UNAVAILABLE if action == "503" else TOO_MANY_REQUESTS)
                return
            answer = _exchange(self.upstream, request)
            if action == "drop_after":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return  # the server did the work; the client gets a reset instead of the answer
            conn.sendall(answer)

    def count(self, action: str) -> int:
        """How many requests were handled with ``action``."""
        with self._lock:
            return sum(1 for a, _, _ in self.log if a == action)

    def stop(self) -> None:
        """Stop accepting connections."""
        self._stop = True
        self.thread.join(timeout=5)
        self.sock.close()

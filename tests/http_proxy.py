"""A loopback HTTP proxy in front of a real server, for tests that need the server to go away at
an exact moment or to demand a header.

Each client connection carries one request: the proxy reads it, forwards it to the server with
`Connection: close`, relays the response and closes. That lets it count requests and, after
`cut_after` of them, behave like a dead server (connections closed without a reply) until
`heal()`. With `require_header`, requests without that header and value get 401 and never reach
the server.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class CuttableProxy:
    def __init__(self, upstream_port: int, *, require_header: tuple[str, str] | None = None
                 ) -> None:
        self.upstream_port = upstream_port
        self.require_header = require_header
        self.cut_after: int | None = None
        self.requests = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def cut(self, after: int) -> None:
        """Let `after` more requests through, then fail every one."""
        with self._lock:
            self.cut_after = self.requests + after

    def heal(self) -> None:
        with self._lock:
            self.cut_after = None

    def _serve(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client:
            head, body = _read_request(client)
            if head is None:
                return
            with self._lock:
                dead = self.cut_after is not None and self.requests >= self.cut_after
                if dead:
                    self.refused += 1
                else:
                    self.requests += 1
            if dead:
                return  # closed without a reply, like a server that died
            lines = head.split(b"\r\n")
            if self.require_header is not None:
                name, value = self.require_header
                wanted = f"{name.lower()}: {value}".encode()
                if not any(line.lower() == wanted.lower() for line in lines[1:]):
                    client.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n"
                                   b"Connection: close\r\n\r\n")
                    return
            kept = [line for line in lines if not line.lower().startswith(b"connection:")]
            request = b"\r\n".join(kept) + b"\r\nConnection: close\r\n\r\n" + body
            try:
                with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=60) as up:
                    up.sendall(request)
                    while chunk := up.recv(65536):
                        client.sendall(chunk)
            except OSError:
                return

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def __enter__(self) -> CuttableProxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _read_request(client: socket.socket) -> tuple[bytes | None, bytes]:
    client.settimeout(60)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                return None, b""
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
            elif name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while not body.endswith(b"0\r\n\r\n"):
                chunk = client.recv(65536)
                if not chunk:
                    break
                body += chunk
        else:
            while len(body) < length:
                chunk = client.recv(65536)
                if not chunk:
                    break
                body += chunk
    except OSError:
        return None, b""
    return head, body

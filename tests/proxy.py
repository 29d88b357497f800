"""A small forward proxy on loopback for tests: CONNECT tunnels and absolute-form HTTP.

Every upstream host name is sent to 127.0.0.1, so tests can use names like ``cortex.test``
without DNS; the proxy records what it was asked for.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator


class _Handler(socketserver.BaseRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        client: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(65536)
            if not chunk:
                return
            head += chunk
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        self.server.seen.append(request_line)
        method, target, _ = request_line.split(" ", 2)
        if method == "CONNECT":
            upstream = socket.create_connection(("127.0.0.1", int(target.rpartition(":")[2])))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = head.split(b"\r\n\r\n", 1)[1]
            if rest:
                upstream.sendall(rest)
        else:
            authority = target.split("://", 1)[1].split("/", 1)[0]
            upstream_port = int(authority.rpartition(":")[2]) if ":" in authority else 80
            upstream = socket.create_connection(("127.0.0.1", upstream_port))
            upstream.sendall(head)
        self._pipe(client, upstream)

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        def forward(src: socket.socket, dst: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while data := src.recv(65536):
                    dst.sendall(data)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        thread = threading.Thread(target=forward, args=(b, a), daemon=True)
        thread.start()
        forward(a, b)
        thread.join(timeout=5)
        b.close()


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    seen: list[str]


@contextlib.contextmanager
def forward_proxy() -> Iterator[_ProxyServer]:
    """A running proxy; ``server.server_address[1]`` is its port, ``server.seen`` its requests."""
    server = _ProxyServer(("127.0.0.1", 0), _Handler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()

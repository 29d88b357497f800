"""A known gap, pinned: a server that trickles its answer a byte at a time, each byte within the
read timeout, holds a request past ``timeout``. httpx's timeouts apply to each socket operation
(connect, write, each read), not to a request as a whole, and the client sets no total limit.

The test is a strict xfail: it fails today (the step ends about 6 s after a 1 s timeout) and will
report XPASS, failing the suite, once the client enforces a total time per request, so that the
docs (docs/reliability.md, docs/threat-model.md) are updated with the fix.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cortex_action.cli import main
from tests.support import github_env

TRICKLE_EVERY = 0.2  # seconds between bytes: far inside the 2 s shortest read timeout


@pytest.fixture
def trickling_server() -> Iterator[str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                body = json.dumps({"id": "r1", "status": "COMPLETED"}).encode()
                head = f"HTTP/1.1 201 Created\r\nContent-Length: {len(body)}\r\n\r\n"
                conn.sendall(head.encode())
                for byte in body[:30]:
                    if stop.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(TRICKLE_EVERY)
                conn.sendall(body[30:])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        server.close()


@pytest.mark.xfail(
    strict=True,
    reason="known gap: no total time limit per request; a trickling server outlasts `timeout`",
)
def test_a_trickling_answer_is_cut_off_at_the_timeout(
    trickling_server: str, tmp_path: Path
) -> None:
    env = github_env(tmp_path, trickling_server, timeout="1s")
    started = time.monotonic()
    code = main([], env, out=io.StringIO(), err=io.StringIO())
    took = time.monotonic() - started
    assert took <= 1 + 5, f"ended {took:.1f} s after start, exit {code}"

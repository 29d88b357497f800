"""A server that trickles its answer a byte at a time, each byte within the read timeout: httpx
times each socket operation, not the request, so without a limit on the whole request such a
server held the step 6-14 s past a 1-3 s ``timeout``. ``transport.WholeRequestTimeout`` bounds
the whole request by its timeout.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cortex_action.transport import WholeRequestTimeout
from tests.support import RealTime, github_env, invoke

# A trickling server in real time.
pytestmark = pytest.mark.slow

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


def test_a_trickling_answer_is_cut_off_at_the_timeout(
    trickling_server: str, tmp_path: Path
) -> None:
    """The trigger's answer trickles for 6 s with `timeout` 1 s: the step gives up within the
    margin (exit 3, the deadline named), instead of waiting for the last byte."""
    env = github_env(tmp_path, trickling_server, timeout="1s")
    started = time.monotonic()
    result = invoke(env, time=RealTime())
    took = time.monotonic() - started
    assert took <= 1 + 5, f"ended {took:.1f} s after start, exit {result.exit_code}"
    assert result.exit_code == 3, result.log
    assert "no answer within 2s (ReadTimeout)" in result.log
    assert "would come after the deadline" in result.log
    # No run was confirmed: no run id, but the key and where to look, in case it started.
    assert result.outputs["run-id"] == ""
    assert result.outputs["idempotency-key"].startswith("cortex-action-")


def _slow(delay: float) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        time.sleep(delay)
        return httpx.Response(200, json={"ok": True})

    return httpx.MockTransport(handler)


def test_whole_request_timeout_passes_answers_and_errors_through() -> None:
    """Within the limit: the answer, already read; a transport error: raised as it was."""
    with httpx.Client(transport=WholeRequestTimeout(_slow(0.0))) as client:
        response = client.get("http://cortex.test/x", timeout=2.0)
    assert response.json() == {"ok": True}

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with (
        httpx.Client(transport=WholeRequestTimeout(httpx.MockTransport(refuse))) as client,
        pytest.raises(httpx.ConnectError, match="refused"),
    ):
        client.get("http://cortex.test/x", timeout=2.0)


def test_whole_request_timeout_gives_up_at_the_limit() -> None:
    """An answer that takes longer than the request's timeout is a ReadTimeout at the limit."""
    with httpx.Client(transport=WholeRequestTimeout(_slow(1.0))) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout, match="kept trickling in"):
            client.get("http://cortex.test/x", timeout=0.2)
        assert time.monotonic() - started < 0.9

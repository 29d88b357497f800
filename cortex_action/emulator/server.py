"""The HTTP side: a ThreadingHTTPServer in a daemon thread, faults, the request log and the
emulator-only control endpoints under ``/_emulator/``."""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from cortex_action.emulator.api import CortexApi, Request, Response, error, json_response
from cortex_action.emulator.config import (
    ConfigError,
    EmulatorConfig,
    FaultConfig,
    default_config,
    parse_config,
    parse_fault,
)
from cortex_action.emulator.engine import Clock, Engine, RunStateError, iso
from cortex_action.emulator.faults import (
    ENDLESS_BODY_BYTES,
    ArmedFault,
    FaultSet,
    fault_body,
    malform_body,
)

CONTROL_PREFIX = "/_emulator/"
MAX_LOGGED_REQUESTS = 10_000


@dataclass
class RecordedRequest:
    """One request to the API, as the request log keeps it (the token is redacted)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any
    body: str
    time: str
    status: int | None = None
    fault: str | None = None
    run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _redact(headers: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        if name == "authorization":  # never keep a token
            scheme = value.strip().partition(" ")[0]
            out[name] = f"{scheme} ***" if scheme else "***"
        else:
            out[name] = value
    return out


def _describe_fault(fault: FaultConfig) -> str:
    if fault.drop:
        return f"drop-{fault.drop}"
    if fault.malform:
        return f"malform:{fault.malform}"
    if fault.status is not None:
        return f"status:{fault.status}"
    if fault.lag:
        return "lag:404"
    return f"delay:{fault.delay}"


class _HTTPServer(ThreadingHTTPServer):
    """Tracks open connections so that stopping the emulator also closes idle keep-alives."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: EmulatorServer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.emulator = emulator
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client (or stop()) closes a connection mid-answer."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real clients expect
    server_version = "CortexEmulator"
    timeout = 120  # an idle keep-alive connection is closed after this many seconds
    # Without TCP_NODELAY, Nagle plus delayed ACK adds ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's per-request stderr line; the emulator logs its own."""

    @property
    def emulator(self) -> EmulatorServer:
        return cast(_HTTPServer, self.server).emulator

    def _read_body(self) -> bytes:
        """The request body, chunked or not; past the size limit only limit+1 bytes are read
        (enough to answer 413) and the connection is closed after the answer."""
        limit = self.emulator.config.behaviour.max_body_bytes + 1
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            size = 0
            while True:
                chunk_len = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if chunk_len == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                if size + chunk_len > limit:
                    self.close_connection = True
                    chunks.append(self.rfile.read(limit - size))
                    break
                chunks.append(self.rfile.read(chunk_len))
                self.rfile.readline()  # the CRLF after each chunk
                size += chunk_len
            return b"".join(chunks)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > limit:
            self.close_connection = True
            return self.rfile.read(limit)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        body = self._read_body()
        req = Request(
            method=self.command.upper(),
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client=self.client_address[0],
        )
        if split.path.startswith(CONTROL_PREFIX) or split.path == CONTROL_PREFIX.rstrip("/"):
            self.send(self.emulator.control(req))
        else:
            self.emulator.serve_api(req, self)

    def send(self, resp: Response, cut_short: bool = False, endless: bool = False) -> None:
        """Write a response; ``cut_short`` announces the full length but sends half, then closes;
        ``endless`` announces no length and sends the body, then padding until the client
        hangs up (or ``ENDLESS_BODY_BYTES``)."""
        self.send_response(resp.status)
        if resp.content_type:
            self.send_header("Content-Type", resp.content_type)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if not endless:
            self.send_header("Content-Length", str(len(resp.body)))
        if cut_short or endless:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(resp.body[: len(resp.body) // 2] if cut_short else resp.body)
        if endless:
            chunk = b"x" * 65536
            try:
                for _ in range(ENDLESS_BODY_BYTES // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:  # the client hung up: what a careful client does
                return
        self.wfile.flush()

    def drop(self) -> None:
        """Close the connection without writing a byte of answer."""
        self.close_connection = True


class EmulatorServer:
    """A local Cortex Workflow Runs API, served from a daemon thread.

    Use it as a context manager (start on enter, stop and join on exit) or call
    :meth:`start` / :meth:`stop`. ``config`` is an :class:`EmulatorConfig`, a mapping with
    the same shape as the config file, or None for the built-in default.
    """

    def __init__(  # noqa: PLR0913 - keyword-only: the answer's parts
        self,
        config: EmulatorConfig | Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        *,
        clock: Clock | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not speed > 0:
            raise ConfigError(f"speed must be a number above 0, got {speed}")
        self.config = default_config() if config is None else parse_config(config)
        self.host = host
        self.speed = speed
        self._log = log
        self.engine = Engine(self.config, speed=speed)
        if clock is not None:
            self.engine.clock = clock
        self.engine.on_event = self._say
        self.engine.seed_history()
        self.api = CortexApi(self.config, self.engine)
        self.faults = FaultSet()
        for fault in self.config.faults:
            self.faults.add(fault)
        self._requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), self)
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"cortex-emulator-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and the socket; safe to call twice."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what tests use ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL (the API is under ``/api/v1``); a wildcard bind is reached on loopback."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def token(self) -> str:
        """A configured token with every permission (the first such, else the first token)."""
        for t in self.config.tokens:
            if {"trigger", "view"} <= set(t.permissions):
                return t.value
        return self.config.tokens[0].value if self.config.tokens else ""

    @property
    def requests(self) -> list[RecordedRequest]:
        """The request log of ``/api/...`` requests, oldest first (a copy)."""
        with self._requests_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    def add_fault(
        self, fault: FaultConfig | Mapping[str, Any] | None = None, **fields: Any
    ) -> ArmedFault:
        """Inject a fault, given as a config mapping, a FaultConfig or keyword fields."""
        spec = parse_fault(fault if fault is not None else fields)
        return self.faults.add(spec)

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def runs(self) -> list[dict[str, Any]]:
        """Every run held (no 30-day window), oldest first, as JSON with context."""
        with self.engine.lock:
            self.engine.advance()
            return [r.to_json(include_context=True) for r in self.engine.runs.values()]

    def run(self, run_id: str) -> dict[str, Any]:
        """One run as JSON with context; KeyError if unknown."""
        run = self.engine.get_run(run_id)
        if run is None:
            raise KeyError(run_id)
        with self.engine.lock:
            return run.to_json(include_context=True)

    def resume(self, run_id: str, approve: bool = True, by: str | None = None) -> dict[str, Any]:
        """Approve or reject a paused run; KeyError if unknown, RunStateError if not paused."""
        with self.engine.lock:
            return self.engine.resume(run_id, approve, by).to_json(include_context=True)

    def cancel(self, run_id: str) -> dict[str, Any]:
        """Cancel a run that has not ended, as a person could in Cortex."""
        with self.engine.lock:
            return self.engine.cancel(run_id).to_json(include_context=True)

    def callbacks(self, run_id: str) -> list[dict[str, Any]]:
        """The callback ids a run's async HTTP blocks wait for now:
        ``[{"callbackId", "block", "workflow", "runId"}]``; KeyError if no such run."""
        return self.engine.pending_callbacks(run_id)

    def wait_for_callback(self, run_id: str, timeout: float = 10.0) -> str:
        """Block until a block of the run waits for a callback; its callback id."""
        deadline = time.monotonic() + timeout
        while True:
            pending = self.callbacks(run_id)
            if pending:
                return str(pending[0]["callbackId"])
            if time.monotonic() >= deadline:
                raise TimeoutError(f"run {run_id} has no block waiting for a callback")
            time.sleep(0.01)

    def _run_age(self, run_id: str) -> float | None:
        with self.engine.lock:
            run = self.engine.runs.get(run_id)
            return None if run is None else self.engine.now() - run.created

    def wait_for_status(self, run_id: str, *statuses: str, timeout: float = 10.0) -> dict[str, Any]:
        """Block until the run has one of ``statuses`` (a helper for tests); TimeoutError if not."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run["status"] in statuses:
                return run
            if time.monotonic() >= deadline:
                raise TimeoutError(f"run {run_id} is {run['status']}, not one of {statuses}")
            time.sleep(0.01)

    def reset(self) -> None:
        """Forget runs, idempotency keys, rate counts, faults and the log; re-arm config faults."""
        self.engine.reset()
        self.api.reset_rate_limit()
        self.clear_requests()
        self.faults.clear()
        for fault in self.config.faults:
            self.faults.add(fault)

    # -- serving -------------------------------------------------------------------------

    def _say(self, line: str) -> None:
        if self._log is not None:
            self._log(line)

    def serve_api(self, req: Request, handler: _Handler) -> None:  # noqa: PLR0912 - one branch per fault kind
        """Answer one API request, applying a fault if one is due, and log it."""
        body_text = req.body.decode("utf-8", "replace")
        try:
            parsed: Any = json.loads(body_text) if body_text.strip() else None
        except ValueError:
            parsed = None
        record = RecordedRequest(
            method=req.method,
            path=unquote(req.path),
            query=copy.deepcopy(req.query),
            headers=_redact(req.headers),
            json=parsed,
            body=body_text,
            time=iso(time.time()) or "",
        )
        with self._requests_lock:
            self._requests.append(record)
            if len(self._requests) > MAX_LOGGED_REQUESTS:  # bound a long-lived server's memory
                del self._requests[: len(self._requests) - MAX_LOGGED_REQUESTS]
        fault = self.faults.pick(req.method, unquote(req.path), self._run_age, self.engine.now)
        if fault is not None:
            record.fault = _describe_fault(fault)
            if fault.delay:
                time.sleep(fault.delay)
        resp: Response | None = None
        if fault is None or not (
            fault.drop == "before" or (fault.status is not None and not fault.commit) or fault.lag
        ):
            try:
                resp = self.api.handle(req)
            except Exception as exc:  # a bug in the emulator: answer like a server would
                resp = error(500, "Internal error in the emulator", repr(exc))
            record.run_id = resp.run_id
        cut_short = endless = False
        if fault is not None:
            if fault.drop is not None:
                resp = None
            elif fault.status is not None:
                body, ctype = fault_body(fault)
                resp = Response(fault.status, body, ctype, run_id=record.run_id)
            elif fault.lag:
                resp = error(404, "Workflow run not found", "No such workflow run")
            elif fault.malform is not None and resp is not None:
                cut_short = fault.malform == "short-body"
                endless = fault.malform == "endless-body"
                if not cut_short:
                    resp.body = malform_body(fault.malform, resp.body)
            if resp is not None:
                resp.headers.update(fault.headers)
                if fault.retry_after is not None:
                    resp.headers["Retry-After"] = str(fault.retry_after)
        record.status = None if resp is None else resp.status
        self._say(
            f"{req.method} {req.path} -> {record.status or 'dropped'}"
            + (f" run={record.run_id}" if record.run_id else "")
            + (f" [fault {record.fault}]" if record.fault else "")
        )
        if resp is None:
            handler.drop()
        else:
            handler.send(resp, cut_short=cut_short, endless=endless)

    def control(self, req: Request) -> Response:  # noqa: PLR0911, PLR0912 - a router: one branch per control endpoint
        """The emulator-only endpoints (no auth, no faults, not logged)."""
        parts = [unquote(p) for p in req.path.strip("/").split("/")][1:]
        method = req.method
        try:
            data: Any = json.loads(req.body) if req.body.strip() else {}
        except ValueError:
            return error(400, "Malformed JSON request", "The body is not valid JSON")
        if parts == ["health"] and method == "GET":
            with self.engine.lock:
                self.engine.advance()
                return json_response(
                    200, {"status": "ok", "runs": len(self.engine.runs), "speed": self.speed}
                )
        if parts == ["requests"]:
            if method == "GET":
                return json_response(200, {"requests": [r.to_json() for r in self.requests]})
            if method == "DELETE":
                self.clear_requests()
                return Response(204, b"", None)
        if parts == ["faults"]:
            if method == "GET":
                return json_response(200, {"faults": self.faults.snapshot()})
            if method == "DELETE":
                self.clear_faults()
                return Response(204, b"", None)
            if method == "POST":
                items = data if isinstance(data, list) else [data]
                try:
                    specs = [parse_fault(item) for item in items if isinstance(item, dict)]
                except ConfigError as err:
                    return error(400, "Invalid fault", str(err))
                if len(specs) != len(items) or not specs:
                    return error(400, "Invalid fault", "Send a fault object or a list of them")
                for spec in specs:
                    self.faults.add(spec)
                return json_response(201, {"faults": self.faults.snapshot()})
        if parts == ["runs"] and method == "GET":
            return json_response(200, {"runs": self.runs})
        if parts == ["reset"] and method == "POST":
            self.reset()
            return Response(204, b"", None)
        if len(parts) == 3 and parts[0] == "runs" and parts[2] == "callbacks" and method == "GET":
            try:
                return json_response(200, {"callbacks": self.callbacks(parts[1])})
            except KeyError:
                return error(404, "Workflow run not found", f"No run {parts[1]}")
        if len(parts) == 3 and parts[0] == "runs" and method == "POST":
            return self._control_run(parts[1], parts[2], data)
        return error(404, "Not found", f"No emulator endpoint {method} {req.path}")

    def _control_run(self, run_id: str, action: str, data: Any) -> Response:
        by = data.get("by") if isinstance(data, dict) else None
        try:
            if action == "resume":
                decision = data.get("action") if isinstance(data, dict) else None
                if decision not in ("approve", "reject"):
                    return error(
                        400, "Invalid resume", 'Send {"action": "approve"} or {"action": "reject"}'
                    )
                run = self.resume(run_id, decision == "approve", by)
            elif action == "cancel":
                run = self.cancel(run_id)
            else:
                return error(404, "Not found", f"No run action {action!r}")
        except KeyError:
            return error(404, "Workflow run not found", f"No run {run_id}")
        except RunStateError as err:
            return error(409, "Run is not in a state that allows this", str(err))
        return json_response(200, run, run_id=run_id)

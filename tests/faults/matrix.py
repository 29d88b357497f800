"""The fault matrix: every fault, for every request kind, run against the project's emulator.

A case is one fault injected into one kind of request (``trigger``: POST .../runs; ``get``: GET
.../runs/{id} while following a run; ``list``: GET /workflows/runs) and one run of the real CLI
(``cli.main``, real HTTP on loopback, the real retry and waiting code). Each case knows its
documented outcome: *recovered* (the command ends as if nothing happened: exit 0) or *failed
cleanly* (the documented exit code and a message that says what happened). Each case also
checks: no traceback, never a second run for one idempotency key (runs counted in the
emulator), never past ``timeout`` plus ``MARGIN``.

Time runs ``SCALE`` times faster than real time, for the CLI (its clock and sleep, and the
per-request HTTP timeouts, through ``HarnessTransport``) and for the emulator (its speed), so
that a 30 s request timeout, a 2-minute ``timeout`` and a budget of 8 attempts with backoff take
a fraction of a second. Durations below are in scaled seconds unless they say "real".

Run it as a table: ``python benchmarks/fault_matrix.py``; the suite asserts it in
tests/faults/test_fault_matrix.py.
"""

from __future__ import annotations

import email.utils
import fnmatch
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cortex_action.emulator import EmulatorServer
from cortex_action.transport import WholeRequestTimeout
from tests.support import github_env, invoke

SCALE = 40.0
# The `timeout` input of every case, and how far past it a case may end. The margin is one
# last request at the minimum per-request timeout (RetryPolicy.min_request_timeout, 2 s), which
# may be spent on connect and read, plus scheduling slack: see docs/reliability.md.
TIMEOUT = 120.0
MARGIN = 5.0
# The harness's own real-time noise (thread scheduling, loopback round trips: up to about
# 0.15 s real) is multiplied by SCALE on the scaled clock; the matrix allows for it on top of
# MARGIN. The margin itself is pinned on a fake clock in tests/fuzz/test_fuzz_budget.py.
HARNESS_SLACK = 0.15 * SCALE
# Cases run side by side, each worker with its own emulator.
WORKERS = 4

KINDS = ("trigger", "get", "list", "callback")
PATHS = {
    "trigger": ("POST", "/api/v1/workflows/*/runs"),
    "get": ("GET", "/api/v1/workflows/*/runs/*"),
    "list": ("GET", "/api/v1/workflows/runs"),
    "callback": ("POST", "/api/v1/workflows/*/callback/*"),
}
# The workflow whose async HTTP block waits for the callback cases' callback.
CALLBACK_WORKFLOW = "await-callback"
WORKFLOW = "deploy-service"
ENTITY = "service-frontend"

JSON_ERROR = {"type": "X", "message": "upstream trouble", "requestId": "req-1", "httpStatus": 0}
HTML_ERROR = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
SPA_PAGE = "<!doctype html><html><head><title>Cortex</title></head><body><div id=root></div>"


class ScaledTime:
    """A monotonic clock that runs ``factor`` times faster than real time; sleeps likewise."""

    def __init__(self, factor: float = SCALE) -> None:
        self.factor = factor
        self.start = time.monotonic()

    def clock(self) -> float:
        return (time.monotonic() - self.start) * self.factor

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / self.factor)


class HarnessTransport(httpx.BaseTransport):
    """The real HTTP transport, with the per-request timeouts scaled like time, and an optional
    refused connection for the first ``refuse`` requests that match (method, path glob): what a
    client sees when nothing listens on the port for a while."""

    def __init__(self, factor: float, refuse: tuple[str, str, int] | None = None) -> None:
        self.factor = factor
        # As in transport.http_client: the whole request bounded by its (scaled) timeout.
        self.inner = WholeRequestTimeout(httpx.HTTPTransport())
        self.refuse = refuse
        self.refused = 0
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        request.extensions["timeout"] = {
            name: (None if value is None else value / self.factor)
            for name, value in timeouts.items()
        }
        if self.refuse is not None:
            method, pattern, count = self.refuse
            matches = request.method == method and fnmatch.fnmatchcase(request.url.path, pattern)
            with self.lock:
                due = matches and (count == 0 or self.refused < count)
                if due:
                    self.refused += 1
            if due:
                raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@dataclass(frozen=True)
class Fault:
    """One fault: a name, and how to inject it (an emulator fault spec, or a refusal)."""

    name: str
    spec: Callable[[], dict[str, Any]] | None = None  # emulator fault fields (without method/path)
    refuse: int | None = None  # refused connections (0: for ever)
    closed_port: bool = False  # nothing listens at all (trigger only)
    # The documented outcome per kind: 0 = recovered; otherwise the exit code and a phrase of
    # the message. A kind missing here is not applicable (and said so in the table).
    expect: dict[str, tuple[int, str]] = field(default_factory=dict)


RECOVERED = (0, "")


def _all(outcome: tuple[int, str]) -> dict[str, tuple[int, str]]:
    return dict.fromkeys(KINDS, outcome)


def _fixed(spec: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: dict(spec)


def _http_date(seconds_ahead: float) -> str:
    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)


def _faults() -> list[Fault]:
    faults = [
        Fault("connection refused, twice", refuse=2, expect=_all(RECOVERED)),
        Fault(
            "connection refused, for ever",
            refuse=0,
            # A poll is retried until `timeout`; the trigger and list have a budget.
            expect={
                "trigger": (3, "could not connect"),
                "get": (4, "Gave up waiting"),
                "list": (3, "could not connect"),
                "callback": (3, "could not connect"),
            },
        ),
        Fault(
            "nothing listening on the port",
            closed_port=True,
            expect={"trigger": (3, "could not connect")},
        ),
        Fault(
            "dropped before the request is handled",
            lambda: {"drop": "before"},
            expect=_all(RECOVERED),
        ),
        Fault(
            "dropped after the request is handled (trigger: run committed)",
            lambda: {"drop": "after"},
            expect=_all(RECOVERED),
        ),
        Fault(
            "read timeout (no answer within the request timeout)",
            # 40 scaled seconds of silence: past the 30 s request timeout.
            lambda: {"delay": 40.0 / SCALE},
            expect=_all(RECOVERED),
        ),
        Fault(
            "read timeout, for ever (until `timeout`)",
            lambda: {"delay": 40.0 / SCALE, "count": 0},
            expect={
                "trigger": (3, "would come after the deadline"),
                "get": (4, "Gave up waiting"),
                "list": (3, "would come after the deadline"),
                "callback": (3, "would come after the deadline"),
            },
        ),
        Fault(
            "slow server (answers within the request timeout)",
            lambda: {"delay": 10.0 / SCALE},
            expect=_all(RECOVERED),
        ),
        Fault(
            "429 without Retry-After", lambda: {"status": 429, "body": None}, expect=_all(RECOVERED)
        ),
        Fault(
            "429 with Retry-After in seconds",
            lambda: {"status": 429, "retry_after": "3", "body": {"title": "Too Many Requests"}},
            expect=_all(RECOVERED),
        ),
        Fault(
            "429 with Retry-After as an HTTP date",
            lambda: {"status": 429, "retry_after": _http_date(3)},
            expect=_all(RECOVERED),
        ),
        Fault(
            "429 with Retry-After past the deadline",
            lambda: {"status": 429, "retry_after": "3600"},
            expect={
                "trigger": (3, "would come after the deadline"),
                "get": (4, "Gave up waiting"),
                "list": (3, "would come after the deadline"),
                "callback": (3, "would come after the deadline"),
            },
        ),
    ]
    bodies: list[tuple[str, Any]] = [("JSON", JSON_ERROR), ("HTML", HTML_ERROR), ("empty", None)]
    for status in (500, 502, 503, 504):
        for shape, body in bodies:
            spec: dict[str, Any] = {"status": status, "body": body}
            faults.append(
                Fault(
                    f"{status}, {shape} body",
                    _fixed(spec),
                    expect=_all(RECOVERED),
                )
            )
    faults += [
        Fault(
            "503 for ever (past the retry budget)",
            lambda: {"status": 503, "body": JSON_ERROR, "count": 0},
            expect={
                "trigger": (3, "after 8 attempts"),
                "get": (4, "Gave up waiting"),
                "list": (3, "after 8 attempts"),
                "callback": (3, "after 8 attempts"),
            },
        ),
        Fault(
            "503 for 90 s (polls go on until `timeout`)",
            lambda: {"status": 503, "body": JSON_ERROR, "for_seconds": 90.0},
            expect={"get": RECOVERED},
        ),
        Fault(
            "404 twice just after the trigger (read-after-write lag)",
            lambda: {"lag_polls": 2, "count": 0},
            expect={"get": RECOVERED},
        ),
        Fault(
            "404 for ever after the trigger (past the 30 s of lag)",
            lambda: {"lag_polls": 1000, "count": 0},
            expect={"get": (3, "Workflow run not found")},
        ),
        Fault(
            "409 conflict (a key reused with another body)",
            lambda: {
                "status": 409,
                "body": {
                    "type": "CONFLICT",
                    "message": "Idempotency-Key reused with a different request",
                    "requestId": "req-409",
                },
            },
            expect={"trigger": (3, "req-409")},
        ),
        Fault(
            "409 busy, with Retry-After (no free slot)",
            lambda: {"status": 409, "retry_after": "3", "body": {"message": "Conflict"}},
            expect={"trigger": RECOVERED},
        ),
        Fault(
            "409 busy, naming the concurrency limit",
            lambda: {
                "status": 409,
                "count": 3,
                "body": {"message": "Concurrency limit reached: at most 5 runs at once"},
            },
            expect={"trigger": RECOVERED},
        ),
        Fault(
            "answer marked as a replay (Idempotent-Replayed: true)",
            lambda: {"delay": 0.001, "headers": {"Idempotent-Replayed": "true"}},
            expect={"trigger": (0, "no new run was started")},
        ),
        Fault(
            "a run of another workflow and entity (a key reused)",
            lambda: {
                "status": 200,
                "body": {
                    "id": "f0000000-0000-4000-8000-000000000000",
                    "status": "COMPLETED",
                    "workflow": {"tag": "scaffold-repo", "cid": "wf7c2d4e6f8a0b1c32"},
                    "scope": {"type": "ENTITY", "entityId": "service-backend"},
                },
            },
            expect={"trigger": (3, "belongs to another request"), "get": (3, "another run")},
        ),
        Fault("truncated JSON", lambda: {"malform": "truncated-json"}, expect=_all(RECOVERED)),
        Fault("malformed JSON", lambda: {"malform": "not-json"}, expect=_all(RECOVERED)),
        Fault(
            "body cut short (Content-Length not met)",
            lambda: {"malform": "short-body"},
            expect=_all(RECOVERED),
        ),
        # A poll's 2xx that is not a run is retried like a 5xx; a trigger's is final.
        Fault(
            "valid JSON, not a run: no `id`",
            lambda: {"malform": "missing-id"},
            expect={
                "trigger": (3, "without a usable `id`"),
                "get": RECOVERED,
                "callback": RECOVERED,  # a callback's answer is taken by its status alone
            },
        ),
        Fault(
            "valid JSON, not a run: `status` a number",
            lambda: {"malform": "wrong-status-type"},
            expect={"trigger": (3, "whose `status` is not a text"), "get": RECOVERED},
        ),
        Fault(
            "valid JSON, not an object",
            lambda: {"malform": "not-an-object"},
            expect={
                "trigger": (3, "not a run object"),
                "get": RECOVERED,
                "list": (3, "not a list of run objects"),
                "callback": RECOVERED,
            },
        ),
        # Issue 12: answers too big, endless, foreign, or with an id no one can use.
        Fault(
            "huge body (20 MiB of valid JSON), once",
            lambda: {"malform": "huge-body"},
            expect=_all(RECOVERED),
        ),
        Fault("endless body, once", lambda: {"malform": "endless-body"}, expect=_all(RECOVERED)),
        # "Endless body, for ever" is not here: eight 16 MiB reads per case hold the GIL long
        # enough to skew the other cases' scaled clocks. tests/test_hostile.py runs it in a
        # process of its own, in real time, with the peak memory.
        Fault(
            "200 with an HTML page (the web app, not the API)",
            lambda: {"status": 200, "body": SPA_PAGE, "count": 0},
            expect=_all((3, "`base-url` must be the API host")),
        ),
        Fault(
            "run id of 100 000 characters",
            lambda: {"status": 200, "body": {"id": "r" * 100_000, "status": "IN_PROGRESS"}},
            # A poll's 2xx that is not a run is retried (issue 11); the next poll reads the run.
            expect={"trigger": (3, "not an id"), "get": RECOVERED},
        ),
        Fault(
            "Retry-After of 99999s",
            lambda: {"status": 503, "retry_after": "99999", "body": JSON_ERROR},
            expect={
                "trigger": (3, "Cortex asked to retry after 99999s, with"),
                "get": (4, "Cortex asked to retry after 99999s, with"),
                "list": (3, "Cortex asked to retry after 99999s, with"),
            },
        ),
        Fault(
            "valid JSON, not a page (no list of runs)",
            lambda: {"status": 200, "body": {"page": 0, "total": 3}},
            expect={"list": (3, "no list of runs")},
        ),
        Fault(
            "valid JSON page, runs without `id` or `status`",
            lambda: {"status": 200, "body": {"content": [{"status": 5}, {"id": 7}]}},
            expect={"list": RECOVERED},
        ),
    ]
    return faults


FAULTS = _faults()


@dataclass(frozen=True)
class Case:
    kind: str
    fault: Fault

    @property
    def id(self) -> str:
        return f"{self.kind}: {self.fault.name}"

    @property
    def expected(self) -> tuple[int, str]:
        return self.fault.expect[self.kind]


CASES = [Case(kind, fault) for fault in FAULTS for kind in KINDS if kind in fault.expect]


@dataclass
class Result:
    case: Case
    exit_code: int
    log: str
    outputs: dict[str, str]
    runs: int  # runs the emulator holds after the case (one created beforehand, for list)
    keys: int  # distinct Idempotency-Key values among the triggers sent
    elapsed: float  # scaled seconds, from the start of the command to its end
    requests: int  # requests of this case's kind that reached the emulator

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.log or "internal error" in self.log

    @property
    def duplicates(self) -> int:
        """Runs past the one this case's idempotency key may start (list starts none itself)."""
        return max(0, self.runs - 1) + max(0, self.keys - 1)

    @property
    def as_expected(self) -> bool:
        code, phrase = self.case.expected
        return self.exit_code == code and phrase in self.log

    @property
    def outcome(self) -> str:
        if self.exit_code == 0:
            return "recovered"
        return f"failed cleanly ({self.exit_code})" if not self.traceback else "TRACEBACK"


@contextmanager
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(speed=SCALE) as emu:
        yield emu


def run_case(emu: EmulatorServer, case: Case, number: int = 0) -> Result:
    """One case on a reset emulator: inject the fault, run the CLI, count what happened."""
    emu.reset()
    method, path = PATHS[case.kind]
    fault = case.fault
    base_url = emu.url
    if case.kind == "list":  # something to list, created before the fault is armed
        httpx.post(
            f"{emu.url}/api/v1/workflows/{WORKFLOW}/runs",
            json={"scope": {"type": "ENTITY", "entityId": ENTITY}},
            headers={"Authorization": f"Bearer {emu.token}"},
        ).raise_for_status()
    inputs: dict[str, str] = {"workflow": WORKFLOW, "entity": ENTITY}
    if case.kind == "callback":  # a block that waits, created before the fault is armed
        started = httpx.post(
            f"{emu.url}/api/v1/workflows/{CALLBACK_WORKFLOW}/runs",
            json={"scope": {"type": "GLOBAL"}},
            headers={"Authorization": f"Bearer {emu.token}"},
        )
        started.raise_for_status()
        inputs = {
            "command": "callback",
            "workflow": CALLBACK_WORKFLOW,
            "callback_id": emu.wait_for_callback(started.json()["id"]),
            "callback_status": "success",
        }
    if fault.spec is not None:
        spec = {"count": 1, **fault.spec(), "method": method, "path": path}
        emu.add_fault(spec)
    if fault.closed_port:
        base_url = "http://127.0.0.1:9"  # discard: nothing listens there
    refuse = None if fault.refuse is None else (method, path, fault.refuse)
    transport = HarnessTransport(SCALE, refuse)
    scaled = ScaledTime()
    sha = f"{number:040x}"
    argv = ["list"] if case.kind == "list" else []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        env = github_env(
            tmp,
            base_url,
            api_token=emu.token,
            timeout=f"{int(TIMEOUT)}s",
            **inputs,
        )
        env["GITHUB_SHA"] = sha
        result = invoke(env, argv, time=scaled, transport=transport)
        elapsed = scaled.clock()
    transport.close()
    # A request held by a delay fault is still being handled: wait until it is (a delayed
    # trigger commits its run only now), so it counts here and not in the next case.
    spec = fault.spec() if fault.spec is not None else {}
    delay = float(spec.get("delay", 0.0))
    if delay and spec.get("count") == 0:  # the last attempt may have started just now
        time.sleep(delay + 0.2)
    elif delay:  # only the first request was held
        time.sleep(max(0.0, delay - elapsed / SCALE) + 0.2)
    sent = [r for r in emu.requests if r.method == method and fnmatch.fnmatchcase(r.path, path)]
    triggers = PATHS["trigger"][1]
    keys = {
        r.headers.get("idempotency-key")
        for r in emu.requests
        if r.method == "POST" and fnmatch.fnmatchcase(r.path, triggers)
    }
    return Result(
        case=case,
        exit_code=result.exit_code,
        log=result.log,
        outputs=result.outputs,
        runs=len(emu.runs),
        keys=len(keys),
        elapsed=elapsed,
        requests=len(sent),
    )


def run_matrix(cases: list[Case] | None = None, workers: int = WORKERS) -> list[Result]:
    """Every case, in order. Cases run in ``workers`` threads, each with its own emulator (the
    time is mostly spent waiting, so threads share two cores well); the CLI handles signals only
    on the main thread, which none of this needs."""
    numbered = list(enumerate(cases or CASES, start=1))
    chunks = [numbered[i::workers] for i in range(workers)]

    def work(chunk: list[tuple[int, Case]]) -> list[tuple[int, Result]]:
        with emulator() as emu:
            return [(n, run_case(emu, case, n)) for n, case in chunk]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = [item for part in pool.map(work, chunks) for item in part]
    return [result for _, result in sorted(done, key=lambda item: item[0])]


def table(results: list[Result]) -> str:
    """The matrix as Markdown: one row per fault, one column per request kind, then totals."""
    by_fault: dict[str, dict[str, Result]] = {}
    for result in results:
        by_fault.setdefault(result.case.fault.name, {})[result.case.kind] = result
    lines = [
        "| Fault | " + " | ".join(KINDS) + " |",
        "|---|" + "---|" * len(KINDS),
    ]
    for fault in FAULTS:
        cells = []
        for kind in KINDS:
            found = by_fault.get(fault.name, {}).get(kind)
            if found is None:
                cells.append("n/a")
                continue
            mark = "" if found.as_expected else " **UNEXPECTED**"
            cells.append(f"{found.outcome}{mark}")
        lines.append(f"| {fault.name} | " + " | ".join(cells) + " |")
    tried = len(results)
    recovered = sum(r.exit_code == 0 for r in results)
    clean = sum(r.exit_code != 0 and not r.traceback for r in results)
    duplicates = sum(r.duplicates for r in results)
    tracebacks = sum(r.traceback for r in results)
    unexpected = sum(not r.as_expected for r in results)
    worst = max((r.elapsed - TIMEOUT for r in results), default=0.0)
    lines += [
        "",
        "| Faults tried | Recovered | Failed cleanly | Duplicate runs | Tracebacks | Unexpected |"
        " Latest end past `timeout` |",
        "|---|---|---|---|---|---|---|",
        f"| {tried} | {recovered} | {clean} | {duplicates} | {tracebacks} | {unexpected} | "
        f"{max(0.0, worst):.1f} s (margin {MARGIN:.0f} s + harness {HARNESS_SLACK:.0f} s) |",
    ]
    return "\n".join(lines)

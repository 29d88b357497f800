"""The one test harness: run the CLI as a host would, against a Cortex stand-in, and read what it
wrote the way the host reads it.

- Constants: ``TOKEN`` (the token every stand-in accepts), ``SHA``, ``NOW`` (the fixed wall clock
  of the listing tests), ``DECLARED_INPUTS`` (action.yml's inputs, in order).
- Time: ``FakeTime`` (moves only when the code sleeps), ``RealTime``.
- Environments: ``github_env`` (what GitHub gives a Docker action), ``base_env`` (the two
  ``CORTEX_`` variables a shell user sets), ``runner_inputs`` (every input with action.yml's
  default, as the runner sets them).
- Running: ``invoke`` calls ``cli.main`` and returns an ``Outcome`` (exit code, stdout, stderr,
  the GitHub outputs and summary, read back with ``tests.readers``).
- Stand-ins for Cortex: ``ScriptedCortex`` on pytest-httpserver (the ``cortex`` fixture),
  ``run_object``/``tagged_run``/``json_response`` for its answers; ``EmulatedCortex``, the
  project's emulator sharing a fake clock with the command (the ``emulated`` fixture of
  tests/hosts); ``start_emulator_process`` and ``wait_for_emulator`` for an emulator in its own
  process, ready when ``/_emulator/health`` answers.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
import sys
import tempfile
import time as real_time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cortex_action.cli import main
from cortex_action.emulator import EmulatorServer, default_config
from tests.readers import parse_github_outputs

TOKEN = "test-token-5ecret"
SHA = "0123456789abcdef0123456789abcdef01234567"
# The outputs of `run`, `wait` and `get` for one run, in the order they are written (written out
# here, not read from the code, so that a test fails when they change).
RUN_OUTPUTS = ("run-id", "status", "run-url", "idempotency-key", "replayed", "result")
NOW = dt.datetime(2026, 11, 30, 9, 0, 0, tzinfo=dt.UTC)

ROOT = Path(__file__).parents[1]
# Every input action.yml declares, in its order: GitHub sets each of them for a Docker action.
ACTION_YML = ROOT / "action.yml"
ACTION_INPUTS: dict[str, Any] = yaml.safe_load(ACTION_YML.read_text("utf-8"))["inputs"]
DECLARED_INPUTS: tuple[str, ...] = tuple(ACTION_INPUTS)


# -- Time -------------------------------------------------------------------------------------


@dataclass
class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    __call__ = clock  # usable directly as the ``clock`` argument

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


class Timekeeper(Protocol):
    """What ``cli.main`` is given for time: a monotonic clock and a sleep."""

    def clock(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class RealTime:
    """The machine's own monotonic clock and sleep, as the entry point gives them."""

    def clock(self) -> float:
        return real_time.monotonic()

    def sleep(self, seconds: float) -> None:
        real_time.sleep(seconds)


# -- Environments -----------------------------------------------------------------------------


def url_of(server: HTTPServer | str) -> str:
    """The base URL of a pytest-httpserver (no trailing slash), or the URL itself."""
    return server if isinstance(server, str) else server.url_for("/").rstrip("/")


def github_env(tmp_path: Path, base_url: HTTPServer | str, **inputs: str) -> dict[str, str]:
    """The environment GitHub gives a Docker action: every declared input set, most empty.

    ``workflow`` is ``deploy-service`` unless given (``workflow=""`` for none); other inputs are
    given as keyword arguments, ``_`` standing for ``-``.
    """
    env = {f"INPUT_{name.upper()}": "" for name in DECLARED_INPUTS}
    env.update(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_SHA": SHA,
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_OUTPUT": str(tmp_path / "github_output"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary"),
            "INPUT_API-TOKEN": TOKEN,
            "INPUT_BASE-URL": url_of(base_url),
            "INPUT_WORKFLOW": "deploy-service",
        }
    )
    for key, value in inputs.items():
        env[f"INPUT_{key.upper().replace('_', '-')}"] = value
    (tmp_path / "github_output").write_text("")  # each step's own, empty at its start
    (tmp_path / "step_summary").write_text("")
    return env


def base_env(base_url: HTTPServer | str) -> dict[str, str]:
    """The two variables a user sets in a shell or a CI other than GitHub: token and URL."""
    return {"CORTEX_API_TOKEN": TOKEN, "CORTEX_BASE_URL": url_of(base_url)}


def runner_inputs(**given: str) -> dict[str, str]:
    """The INPUT_* variables the GitHub runner sets for a Docker action: every declared input, to
    the value given (``_`` standing for ``-``) or else to action.yml's default ('' if none),
    named INPUT_ + the name upper-cased with hyphens kept (INPUT_API-TOKEN)."""
    values = {name.replace("_", "-"): value for name, value in given.items()}
    unknown = set(values) - set(ACTION_INPUTS)
    assert not unknown, f"not inputs of action.yml: {sorted(unknown)}"
    env: dict[str, str] = {}
    for name, spec in ACTION_INPUTS.items():
        default = (spec or {}).get("default", "")
        env[f"INPUT_{name.upper()}"] = values.get(name, "" if default is None else str(default))
    return env


# -- Running the CLI --------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a user sees of one invocation: exit code, both streams, GitHub outputs and summary."""

    exit_code: int
    stdout: str
    stderr: str
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    @property
    def log(self) -> str:
        return self.stdout + self.stderr


def fixed_now() -> dt.datetime:
    """The wall clock of ``invoke`` unless given another: always ``NOW``."""
    return NOW


def _read(path: str | None) -> str:
    return Path(path).read_text("utf-8") if path and Path(path).is_file() else ""


def invoke(
    env: Mapping[str, str],
    argv: Iterable[str] = (),
    *,
    time: Timekeeper | None = None,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], dt.datetime] = fixed_now,
) -> Outcome:
    """Run ``cli.main`` as the entry point would, with fake time unless given another (a fake
    monotonic clock and the wall clock ``NOW``); collect what a user sees."""
    time = time or FakeTime()
    out, err = io.StringIO(), io.StringIO()
    code = main(
        list(argv),
        env,
        out=out,
        err=err,
        transport=transport,
        clock=time.clock,
        sleep=time.sleep,
        now=now,
    )
    return Outcome(
        code,
        out.getvalue(),
        err.getvalue(),
        parse_github_outputs(_read(env.get("GITHUB_OUTPUT"))),
        _read(env.get("GITHUB_STEP_SUMMARY")),
    )


# -- A scripted Cortex on pytest-httpserver ---------------------------------------------------


def run_object(run_id: str = "run-1", status: str = "IN_PROGRESS", **extra: Any) -> dict[str, Any]:
    """A minimal run object, as a trigger or a poll answers."""
    return {"id": run_id, "status": status, "workflow": {"cid": "wf123"}, "actions": [], **extra}


def tagged_run(
    run_id: str = "3f0c9a52-1111-4c1e-9d5e-000000000001",
    status: str = "COMPLETED",
    *,
    workflow: str = "deploy-service",
    **extra: Any,
) -> dict[str, Any]:
    """A run object whose workflow carries its tag and name, as get and list read it."""
    return {
        "id": run_id,
        "status": status,
        "workflow": {"cid": "wf5a1c0e7d9b3f2a41", "tag": workflow, "name": "Deploy service"},
        **extra,
    }


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body), status, headers=dict(headers or {}), content_type="application/json"
    )


Handler = Callable[[Request], Response]


class ScriptedCortex:
    """A Cortex stand-in on pytest-httpserver: a trigger answer, then a script of run states."""

    def __init__(self, server: HTTPServer, workflow: str = "deploy-service") -> None:
        self.server = server
        self.workflow = workflow
        self.trigger_responses: list[Response] = [
            Response(
                json.dumps(run_object(status="NOT_INITIATED")), 201, content_type="application/json"
            )
        ]
        self.get_responses: list[Response] = []
        # The workflow's recent runs, for the duration history (one list request per wait).
        self.history: list[dict[str, Any]] = []
        server.expect_request("/api/v1/workflows/runs", method="GET").respond_with_handler(
            lambda request: json_response({"runs": self.history})
        )
        server.expect_request(
            f"/api/v1/workflows/{workflow}/runs", method="POST"
        ).respond_with_handler(self._trigger)
        server.expect_request(
            re.compile(rf"/api/v1/workflows/{re.escape(workflow)}/runs/[^/]+"), method="GET"
        ).respond_with_handler(self._get)
        # The preflight reads the workflow's definition first, as it does from real Cortex: a
        # plain runnable workflow unless a test says otherwise.
        self.definition: Response = json_response(
            {"name": "Deploy service", "tag": workflow, "isDraft": False, "isRunnableViaApi": True}
        )
        server.expect_request(f"/api/v1/workflows/{workflow}", method="GET").respond_with_handler(
            lambda request: self.definition
        )

    @property
    def base_url(self) -> str:
        return url_of(self.server)

    def on_trigger(self, *responses: Response) -> None:
        self.trigger_responses = list(responses)

    def statuses(self, *statuses: str, run_id: str = "run-1", **extra: Any) -> None:
        self.get_responses = [
            Response(
                json.dumps(run_object(run_id, status=s, **extra)),
                200,
                content_type="application/json",
            )
            for s in statuses
        ]

    def on_get(self, *responses: Response) -> None:
        self.get_responses = list(responses)

    def _next(self, queue: list[Response]) -> Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def _trigger(self, request: Request) -> Response:
        return self._next(self.trigger_responses)

    def _get(self, request: Request) -> Response:
        return self._next(self.get_responses)

    def requests(self, method: str | None = None) -> list[Request]:
        """The requests to the run endpoints (the trigger and the polls), in order; the
        preflight's read of the definition is in ``definition_reads``."""
        return [
            r
            for r, _ in self.server.log
            if (method is None or r.method == method) and r not in self.definition_reads()
        ]

    def definition_reads(self) -> list[Request]:
        path = f"/api/v1/workflows/{self.workflow}"
        return [r for r, _ in self.server.log if r.path == path and r.method == "GET"]

    def polls(self) -> list[Request]:
        """The GETs of the run (not the list request that reads the workflow's history)."""
        return [r for r in self.requests("GET") if r.path != "/api/v1/workflows/runs"]


def serve_history(server: HTTPServer, runs: Sequence[Mapping[str, Any]] = ()) -> None:
    """Answer the list request that reads the workflow's recent runs (none by default)."""
    server.expect_request("/api/v1/workflows/runs", method="GET").respond_with_json(
        {"runs": list(runs)}
    )


def requests_to(server: HTTPServer, path: str) -> list[Request]:
    """The requests a pytest-httpserver received on ``path``, oldest first."""
    return [request for request, _ in server.log if request.path == path]


def query_of(request: Request) -> dict[str, list[str]]:
    """The query parameters exactly as Cortex received them, repeated ones kept."""
    return {key: request.args.getlist(key) for key in request.args}


# -- The project's emulator -------------------------------------------------------------------

# Text a block's error can carry: XML, Markdown, shell and CI-log specials, controls, non-ASCII.
HOSTILE_ERROR = (
    'Rollout <failed> & "stopped" at 50% for $HOME\n'
    "::error::forged\x1b[31m red\x1b[0m section_end:1:x ☃ 😀"
)
# One more workflow beside the emulator's own (deploy-service, failing-deploy, ...).
HOSTILE_WORKFLOW = {
    "tag": "hostile-deploy",
    "name": "Hostile deploy",
    "scope": "ENTITY",
    "blocks": [
        {"name": "Check entity", "slug": "check", "duration": 0.5},
        {
            "name": "Deploy <prod>",
            "slug": "deploy",
            "duration": 1.0,
            "outcome": "fail",
            "message": HOSTILE_ERROR,
        },
        {"name": "Notify", "slug": "notify", "duration": 0.5},
    ],
}


@dataclass
class EmulatedCortex:
    """A started emulator (in this process) and the fake clock it shares with the command, so
    runs progress exactly as fast as the command polls: no real waiting."""

    emulator: EmulatorServer
    time: FakeTime

    @property
    def url(self) -> str:
        return self.emulator.url

    @property
    def token(self) -> str:
        return self.emulator.token

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The API requests received, oldest first (header names lower-case)."""
        return [
            {
                "method": r.method,
                "path": r.path,
                "headers": {k.lower(): v for k, v in r.headers.items()},
                "body": r.json,
            }
            for r in self.emulator.requests
        ]

    @property
    def trigger(self) -> dict[str, Any]:
        """The first trigger received (the preflight's read of the definition comes before)."""
        return next(r for r in self.requests if r["method"] == "POST")

    def run(self, argv: list[str], env: Mapping[str, str]) -> Outcome:
        """``cli.main`` as the console script calls it, on the shared clock."""
        return invoke(env, argv, time=self.time)


@contextmanager
def emulated_cortex(overrides: Mapping[str, Any] | None = None) -> Iterator[EmulatedCortex]:
    """The default emulator (with ``overrides`` merged in, as ``default_config`` does) plus
    ``HOSTILE_WORKFLOW``, on a fake clock starting at the real time."""
    fake = FakeTime(now=real_time.time())
    defaults = default_config(dict(overrides) if overrides else None).model_dump(by_alias=True)
    config = defaults | {"workflows": [*defaults["workflows"], HOSTILE_WORKFLOW]}
    with EmulatorServer(config, speed=20.0, clock=fake.clock) as emulator:
        yield EmulatedCortex(emulator, fake)


def wait_for_emulator(url: str, timeout: float = 20.0) -> None:
    """Return once ``url``/_emulator/health answers 200; AssertionError after ``timeout`` s."""
    deadline = real_time.monotonic() + timeout
    last: object = None
    while real_time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_emulator/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = exc
        real_time.sleep(0.1)
    raise AssertionError(f"the emulator at {url} was not healthy within {timeout} s ({last})")


@contextmanager
def start_emulator_process(*args: str) -> Iterator[str]:
    """``cortex-action emulator --port 0`` in its own process: yields its URL (from its
    ``--ready-file``) once ``/_emulator/health`` answers, and stops it at the end."""
    with tempfile.TemporaryDirectory() as folder:
        ready = Path(folder) / "url"
        command = [sys.executable, "-m", "cortex_action", "emulator", "--port", "0", "--quiet"]
        proc = subprocess.Popen(
            [*command, "--ready-file", str(ready), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = real_time.monotonic() + 20
            while not ready.exists():
                assert proc.poll() is None, f"the emulator exited with {proc.returncode}"
                assert real_time.monotonic() < deadline, "the emulator wrote no ready file"
                real_time.sleep(0.05)
            url = ready.read_text("utf-8").strip()
            wait_for_emulator(url)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# The preflight's read of a workflow's definition: GET /api/v1/workflows/{one segment}; and the
# dry run's read of the run listing, GET /api/v1/workflows/runs.
_DEFINITION_PATH = re.compile(r"/api/v1/workflows/(?!runs/?$)[^/]+/?")
_LISTING_PATH = re.compile(r"/api/v1/workflows/runs/?")
RUNNABLE = {"isRunnableViaApi": True, "isDraft": False}


def with_definition(
    handler: Callable[[httpx.Request], httpx.Response],
    definition: Mapping[str, Any] = RUNNABLE,
) -> Callable[[httpx.Request], httpx.Response]:
    """``handler`` behind a Cortex that also answers the preflight's read of the definition and
    the dry run's read of the listing (no runs), so that a test about the trigger and the polls
    sees only those."""

    def serve(request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.split(b"?")[0].decode("ascii")  # still percent-encoded
        if request.method == "GET" and _DEFINITION_PATH.fullmatch(path):
            return httpx.Response(200, json=dict(definition))
        if request.method == "GET" and _LISTING_PATH.fullmatch(path):
            return httpx.Response(200, json={"runs": [], "total": 0, "totalPages": 0})
        return handler(request)

    return serve

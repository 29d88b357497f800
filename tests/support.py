"""Helpers the tests share: run the CLI as a host would, and read what it wrote the way the host
reads it."""

from __future__ import annotations

import io
import json
import re
import time as real_time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cortex_action.cli import main
from cortex_action.hosts.github import parse_outputs as parse_github_outputs

TOKEN = "test-token-5ecret"
SHA = "0123456789abcdef0123456789abcdef01234567"

# Every input action.yml declares, in its order: GitHub sets each of them for a Docker action.
ACTION_YML = Path(__file__).parents[1] / "action.yml"
DECLARED_INPUTS: tuple[str, ...] = tuple(yaml.safe_load(ACTION_YML.read_text("utf-8"))["inputs"])


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


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str

    @property
    def log(self) -> str:
        return self.stdout + self.stderr


def github_env(tmp_path: Path, base_url: str, **inputs: str) -> dict[str, str]:
    """The environment GitHub gives a Docker action: every declared input set, most empty."""
    env = {f"INPUT_{name.upper()}": "" for name in DECLARED_INPUTS}
    env.update(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_SHA": SHA,
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_OUTPUT": str(tmp_path / "github_output"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary"),
            "INPUT_API-TOKEN": TOKEN,
            "INPUT_BASE-URL": base_url,
            "INPUT_WORKFLOW": "deploy-service",
        }
    )
    for key, value in inputs.items():
        env[f"INPUT_{key.upper().replace('_', '-')}"] = value
    (tmp_path / "github_output").write_text("")  # each step's own, empty at its start
    (tmp_path / "step_summary").write_text("")
    return env


def invoke(
    env: Mapping[str, str],
    argv: Iterable[str] = (),
    *,
    time: Timekeeper | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Outcome:
    """Run ``cli.main`` as the entry point would, with fake time unless given another;
    collect what a user sees."""
    time = time or FakeTime()
    out, err = io.StringIO(), io.StringIO()
    code = main(
        list(argv), env, out=out, err=err, transport=transport, clock=time.clock, sleep=time.sleep
    )
    outputs_path = env.get("GITHUB_OUTPUT")
    summary_path = env.get("GITHUB_STEP_SUMMARY")
    outputs_text = Path(outputs_path).read_text() if outputs_path else ""
    summary = Path(summary_path).read_text() if summary_path else ""
    return Outcome(
        code, out.getvalue(), err.getvalue(), parse_github_outputs(outputs_text), summary
    )


def run_object(run_id: str = "run-1", status: str = "IN_PROGRESS", **extra: Any) -> dict[str, Any]:
    return {"id": run_id, "status": status, "workflow": {"cid": "wf123"}, "actions": [], **extra}


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
        server.expect_request(
            f"/api/v1/workflows/{workflow}/runs", method="POST"
        ).respond_with_handler(self._trigger)
        server.expect_request(
            re.compile(rf"/api/v1/workflows/{re.escape(workflow)}/runs/[^/]+"), method="GET"
        ).respond_with_handler(self._get)

    @property
    def base_url(self) -> str:
        return self.server.url_for("/").rstrip("/")

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
        return [r for r, _ in self.server.log if method is None or r.method == method]


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body), status, headers=dict(headers or {}), content_type="application/json"
    )


Handler = Callable[[Request], Response]

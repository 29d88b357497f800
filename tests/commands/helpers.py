"""Run ``cli.main`` as a user would, with a fake clock, and read back what the user sees."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request

from cortex_action import cli
from cortex_action.hosts.github import parse_outputs as parse_github_outputs
from tests.support import DECLARED_INPUTS, SHA
from tests.support import FakeTime as FakeClock

__all__ = ["FakeClock"]

TOKEN = "test-token-0123456789"
NOW = dt.datetime(2026, 11, 30, 9, 0, 0, tzinfo=dt.UTC)


@dataclass
class Result:
    code: int
    out: str
    err: str
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    @property
    def log(self) -> str:
        return self.out + self.err


def base_env(server: HTTPServer) -> dict[str, str]:
    return {"CORTEX_API_TOKEN": TOKEN, "CORTEX_BASE_URL": server.url_for("/").rstrip("/")}


def github_env(server: HTTPServer, tmp_path: Path, **inputs: str) -> dict[str, str]:
    """The environment GitHub gives a Docker action: every input set, empty when not given."""
    out = tmp_path / "github_output"
    summary = tmp_path / "step_summary"
    out.touch()
    summary.touch()
    env = {"INPUT_" + name.upper(): "" for name in DECLARED_INPUTS}
    env |= {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(out),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_SHA": SHA,
        "INPUT_API-TOKEN": TOKEN,
        "INPUT_BASE-URL": server.url_for("/").rstrip("/"),
    }
    for name, value in inputs.items():
        env["INPUT_" + name.replace("_", "-").upper()] = value
    return env


def invoke(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    clock: FakeClock | None = None,
    now: Callable[[], dt.datetime] = lambda: NOW,
) -> Result:
    clock = clock or FakeClock()
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), env, out=out, err=err, clock=clock, sleep=clock.sleep, now=now)
    result = Result(code, out.getvalue(), err.getvalue())
    if "GITHUB_OUTPUT" in env:
        result.outputs = parse_github_outputs(Path(env["GITHUB_OUTPUT"]).read_text("utf-8"))
        result.summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text("utf-8")
    return result


def run_object(
    run_id: str = "3f0c9a52-1111-4c1e-9d5e-000000000001",
    status: str = "COMPLETED",
    *,
    workflow: str = "deploy-service",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": run_id,
        "status": status,
        "workflow": {"cid": "wf5a1c0e7d9b3f2a41", "tag": workflow, "name": "Deploy service"},
        **extra,
    }


def requests_to(server: HTTPServer, path: str) -> list[Request]:
    return [request for request, _ in server.log if request.path == path]


def query_of(request: Request) -> dict[str, list[str]]:
    """The query parameters exactly as Cortex received them, repeated ones kept."""
    return {key: request.args.getlist(key) for key in request.args}


def json_body(text: str) -> Any:
    return json.loads(text)

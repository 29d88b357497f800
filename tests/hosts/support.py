"""A Cortex-compatible server for the per-host tests, and a helper to run the real command."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cortex_action import cli

TOKEN = "test-token-do-not-print"
# Text a block's error can carry: XML, Markdown, shell and CI-log specials, controls, non-ASCII.
HOSTILE_ERROR = (
    'Rollout <failed> & "stopped" at 50% for $HOME\n'
    "::error::forged\x1b[31m red\x1b[0m section_end:1:x ☃ 😀"
)

# What each workflow does: the statuses its run goes through, then its blocks at the end.
SCRIPTS: dict[str, tuple[list[str], list[dict[str, Any]]]] = {
    "deploy-service": (
        ["NOT_INITIATED", "IN_PROGRESS", "COMPLETED"],
        [
            {"name": "Check entity", "state": {"status": "COMPLETED"}},
            {"name": "Deploy", "state": {"status": "COMPLETED"}},
        ],
    ),
    "failing-deploy": (
        ["IN_PROGRESS", "FAILED"],
        [
            {"name": "Check entity", "state": {"status": "COMPLETED"}},
            {"name": "Deploy <prod>", "state": {"status": "FAILED", "errorMessage": HOSTILE_ERROR}},
            {"name": "Notify", "state": {"status": "NOT_STARTED"}},
        ],
    ),
}


@dataclass
class FakeCortex:
    """Just enough of the Workflow Runs API: trigger, then each read moves the run one step."""

    server: HTTPServer
    token: str = TOKEN
    requests: list[dict[str, Any]] = field(default_factory=list)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def handle(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "body": body,
            }
        )
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json({"type": "UNAUTHORIZED", "message": "bad token"}, 401)
        match = re.fullmatch(r"/api/v1/workflows/([^/]+)/runs(?:/([^/]+))?", request.path)
        if not match or match.group(1) not in SCRIPTS:
            return _json({"type": "NOT_FOUND", "message": "no such workflow"}, 404)
        workflow, run_id = match.groups()
        statuses, blocks = SCRIPTS[workflow]
        if request.method == "POST":
            run_id = f"run-{len(self.runs) + 1:04d}-1f0c"
            self.runs[run_id] = {"workflow": workflow, "step": 0}
        elif run_id not in self.runs:
            return _json({"type": "NOT_FOUND", "message": "no such run"}, 404)
        else:
            state = self.runs[run_id]
            state["step"] = min(state["step"] + 1, len(statuses) - 1)
        step = self.runs[run_id]["step"]
        done = step == len(statuses) - 1
        return _json(
            {
                "id": run_id,
                "status": statuses[step],
                "workflow": {"cid": workflow},
                "actions": blocks if done else [],
            },
            200,
        )


def _json(payload: object, status: int) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


@dataclass
class Result:
    code: int
    out: str
    err: str


class FakeTime:
    """A clock that moves only when the code sleeps: polling is instant and deterministic."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run_cli(
    argv: list[str],
    env: Mapping[str, str],
    *,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> Result:
    fake = FakeTime()
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        argv,
        env,
        out=out,
        err=err,
        clock=clock or fake.clock,
        sleep=sleep or fake.sleep,
    )
    return Result(code, out.getvalue(), err.getvalue())


def real_time() -> dict[str, Callable[..., Any]]:
    return {"clock": time.monotonic, "sleep": time.sleep}

"""The Cortex emulator for the per-host tests, sharing one fake clock with the command, so runs
progress exactly as fast as the command polls: no real waiting, the same result every time."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cortex_action import cli
from cortex_action.emulator import EmulatorServer, default_config
from tests.support import FakeTime

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
class Result:
    code: int
    out: str
    err: str


@dataclass
class Cortex:
    """A started emulator and the clock it shares with the command under test."""

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

    def run(self, argv: list[str], env: Mapping[str, str]) -> Result:
        """``cli.main`` as the console script calls it, on the shared clock."""
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(argv, env, out=out, err=err, clock=self.time.clock, sleep=self.time.sleep)
        return Result(code, out.getvalue(), err.getvalue())


@contextmanager
def started_cortex() -> Iterator[Cortex]:
    fake = FakeTime(now=time.time())
    defaults = default_config().model_dump(by_alias=True)
    config = defaults | {"workflows": [*defaults["workflows"], HOSTILE_WORKFLOW]}
    with EmulatorServer(config, speed=20.0, clock=fake.clock) as emulator:
        yield Cortex(emulator, fake)

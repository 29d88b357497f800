"""A fan-out's dry run, attacked: a Cortex that refuses or stalls the checks, hostile entity
names, hundreds of long ones, keys that a real run would not send. Never a trigger, an exit
code as documented, and a log, outputs and summary that say what a real run would do."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cortex_action.render.outputs import OUTPUT_LIMIT
from tests.support import TOKEN, FakeTime, Outcome, github_env, invoke

DEFINITION = "/api/v1/workflows/deploy-service"
RUNNABLE = {"isRunnableViaApi": True, "isDraft": False}
NO_RUNS = {"workflowRuns": [], "totalPages": 0, "totalElements": 0}
Answer = Callable[[httpx.Request], httpx.Response]


def stall(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("no answer", request=request)


def answer(status: int, body: object) -> Answer:
    return lambda request: httpx.Response(status, json=body)


class Cortex:
    """A scripted Cortex: the definition and the run listing as given; a trigger is counted."""

    def __init__(self, definition: Answer, listing: Answer) -> None:
        self.definition, self.listing = definition, listing
        self.seen: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path == DEFINITION:
            return self.definition(request)
        if request.method == "POST":
            return httpx.Response(201, json={"id": "r1", "status": "NOT_INITIATED"})
        return self.listing(request)

    def triggers(self) -> int:
        return [r.method for r in self.seen].count("POST")


def dry_run(cortex: Cortex, tmp_path: Path, time: FakeTime | None = None, **inputs: str) -> Outcome:
    inputs.setdefault("entities", "service-01,service-02")
    env = github_env(tmp_path, "https://api.example.com", dry_run="true", **inputs)
    return invoke(env, time=time, transport=cortex.transport)


@pytest.mark.parametrize(
    ("listing", "code"),
    [
        (answer(401, {"message": "bad token"}), 3),
        (answer(403, {"message": "forbidden"}), 3),
        (answer(500, {"message": "boom"}), 3),
        (answer(200, {"foo": 1}), 3),
        (stall, 3),
    ],
    ids=["401", "403", "500", "garbled", "stall"],
)
def test_a_failed_check_of_the_token_says_it_was_a_dry_run(
    tmp_path: Path, listing: Answer, code: int
) -> None:
    """The log said "dry run" only after the token's check: a 401 there read as a failed
    deploy of N entities, with nothing to say that no trigger had been sent."""
    cortex = Cortex(answer(200, RUNNABLE), listing)
    time = FakeTime()
    started = time.now
    done = dry_run(cortex, tmp_path, time=time, timeout="1m")
    assert done.exit_code == code, done.log
    assert cortex.triggers() == 0
    said = done.log.index("Dry run: would trigger 2 runs")
    assert "(none is sent)" in done.log
    assert said < done.log.index("::error")
    assert time.now - started <= 60 + 1
    assert "Traceback" not in done.log
    assert TOKEN not in done.log.replace(f"::add-mask::{TOKEN}", "")


def test_a_preflight_warning_in_a_dry_run_does_not_say_it_triggers(tmp_path: Path) -> None:
    """A GLOBAL-looking filter warns once; "Triggering anyway" was wrong in a dry run."""
    cortex = Cortex(answer(200, {**RUNNABLE, "scope": "GLOBAL"}), answer(200, NO_RUNS))
    done = dry_run(cortex, tmp_path)
    assert done.exit_code == 0, done.log
    assert cortex.triggers() == 0
    assert done.log.count("Its filter looks GLOBAL") == 1
    assert "Triggering anyway" not in done.log
    assert "A real run would trigger anyway." in done.log


def test_500_long_names_keep_runs_under_githubs_limit(tmp_path: Path) -> None:
    """500 names of 1,024 emoji made `runs` 2.1 MB, past what GitHub takes from one step: the
    names are cut (and said to be), every entity keeps its row and its key, in order."""
    names = [f"{i:03d}" + "\U0001f600" * 1020 for i in range(500)]
    cortex = Cortex(answer(200, RUNNABLE), answer(200, NO_RUNS))
    done = dry_run(cortex, tmp_path, entities=",".join(names))
    assert done.exit_code == 0, done.log
    assert cortex.triggers() == 0
    assert len(done.outputs["runs"].encode()) <= OUTPUT_LIMIT
    runs = json.loads(done.outputs["runs"])
    assert [r["entity"][:3] for r in runs] == [f"{i:03d}" for i in range(500)]
    assert all(r["entityTruncated"] is True and r["status"] == "DRY_RUN" for r in runs)
    assert len({r["idempotencyKey"] for r in runs}) == 500
    assert len(done.summary.encode()) < 1024 * 1024
    assert done.outputs["count"] == "500"


def test_random_keys_are_said_not_to_be_the_real_runs(tmp_path: Path) -> None:
    """No commit SHA: each key is random, so the real run will send others. The summary showed
    them as the keys to expect; the summary and the warning now say they won't match."""
    cortex = Cortex(answer(200, RUNNABLE), answer(200, NO_RUNS))
    env = github_env(tmp_path, "https://api.example.com", entities="a,b", dry_run="true")
    del env["GITHUB_SHA"]
    env["GITHUB_WORKSPACE"] = str(tmp_path)  # no repository there: no `git rev-parse HEAD`
    done = invoke(env, transport=cortex.transport)
    assert done.exit_code == 0, done.log
    assert cortex.triggers() == 0
    runs = json.loads(done.outputs["runs"])
    assert all(r["idempotencyKey"].startswith("cortex-action-random-") for r in runs)
    warning = next(line for line in done.log.splitlines() if "title=No commit SHA" in line)
    assert "they will not match the keys it sends" in warning
    assert done.log.count("title=No commit SHA") == 1
    assert "they will not match the keys it sends" in done.summary


def test_derived_keys_carry_no_such_note(tmp_path: Path) -> None:
    cortex = Cortex(answer(200, RUNNABLE), answer(200, NO_RUNS))
    done = dry_run(cortex, tmp_path)
    assert done.exit_code == 0, done.log
    assert "No commit SHA" not in done.log
    assert "will not match" not in done.summary


def test_one_entity_gives_its_key_as_a_real_fan_out_of_one_does(tmp_path: Path) -> None:
    """A real fan-out of one entity outputs `idempotency-key`; its dry run gave none (and its
    summary read "dry run of 1 runs")."""
    cortex = Cortex(answer(200, RUNNABLE), answer(200, NO_RUNS))
    done = dry_run(cortex, tmp_path, entities="service-01", output_dir=str(tmp_path / "out"))
    assert done.exit_code == 0, done.log
    key = json.loads(done.outputs["runs"])[0]["idempotencyKey"]
    assert done.outputs["idempotency-key"] == key
    assert "dry run of 1 run\n" in done.summary
    env_file = (tmp_path / "out" / "cortex-action.env").read_text()
    assert f"CORTEX_RUN_IDEMPOTENCY_KEY={key}\n" in env_file
    two = dry_run(Cortex(answer(200, RUNNABLE), answer(200, NO_RUNS)), tmp_path)
    assert two.outputs["idempotency-key"] == ""

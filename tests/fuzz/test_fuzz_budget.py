"""The retry budget and the clock: over random fault sequences on a fake clock, the time spent in
retries and waits honours ``timeout``; a Retry-After past the deadline ends at once (exit 3 for
the trigger, 4 while waiting) and says why, instead of sleeping past it.

Requests here take time too: each answer moves the fake clock on by a random amount, at most the
per-request timeout the client asked for (what a real timeout guarantees, per stage). So the only
way past the deadline is the last request itself, at most ``min_request_timeout`` long: that is
the documented margin (docs/reliability.md).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cortex_action.errors import CortexError, DeadlineReached, RetriesExhausted, TransportError
from cortex_action.retry import RetryPolicy, Transient, call_with_retries
from tests.fuzz.strategies import fuzz, fuzz_few
from tests.support import FakeTime, github_env, invoke, with_definition

POLICY = RetryPolicy()
# How far past the deadline an invocation may end: one last request at the shortest timeout.
MARGIN = POLICY.min_request_timeout


@dataclass(frozen=True)
class Step:
    """One attempt: how long it takes (a share of the timeout it is given) and how it ends."""

    share: float  # 0..1 of the per-request timeout
    outcome: str  # "ok", "transient", "retry-after"
    retry_after: float = 0.0


STEPS = st.builds(
    Step,
    share=st.floats(0, 1),
    outcome=st.sampled_from(["ok", "transient", "transient", "retry-after"]),
    retry_after=st.floats(0, 4000),
)


@fuzz
@given(
    steps=st.lists(STEPS, min_size=1, max_size=12),
    budget=st.floats(1, 4000),
    max_attempts=st.integers(1, 10),
)
@example(steps=[Step(1.0, "transient")] * 12, budget=1.0, max_attempts=10)
@example(steps=[Step(0.0, "retry-after", 3600)], budget=300.0, max_attempts=8)
def test_retries_never_sleep_past_the_deadline(
    steps: list[Step], budget: float, max_attempts: int
) -> None:
    """call_with_retries: no sleep ends past the deadline; the end is at most one request past
    it; attempts are bounded; the way out says which budget ran out."""
    time = FakeTime()
    deadline = time.now + budget
    policy = RetryPolicy(max_attempts=max_attempts)
    script = iter(steps)
    attempts: list[float] = []

    def attempt(timeout: float) -> str:
        step = next(script, Step(1.0, "transient"))
        attempts.append(timeout)
        assert policy.min_request_timeout <= timeout <= policy.request_timeout
        time.now += step.share * timeout
        if step.outcome == "ok":
            return "done"
        retry_after = step.retry_after if step.outcome == "retry-after" else None
        raise Transient(TransportError("flaky"), retry_after=retry_after)

    def sleep(seconds: float) -> None:
        assert time.now + seconds <= deadline + 1e-6, "a sleep would end past the deadline"
        time.sleep(seconds)

    try:
        result: str | CortexError = call_with_retries(
            attempt,
            what="testing",
            deadline=deadline,
            clock=time.clock,
            sleep=sleep,
            policy=policy,
        )
    except (DeadlineReached, RetriesExhausted) as exc:
        result = exc
    assert time.now <= deadline + MARGIN
    assert len(attempts) <= max_attempts
    if isinstance(result, DeadlineReached):
        assert "would come after the deadline" in str(result)
    elif isinstance(result, RetriesExhausted):
        assert len(attempts) == max_attempts
        assert f"after {max_attempts} attempts" in str(result)
    else:
        assert result == "done"


# -- end to end: the CLI on a fake clock, a Cortex whose answers take time and fail at random ----

ANSWERS = st.sampled_from(["ok", "503", "429", "429-long", "drop", "slow", "in-progress"])


def _cli(
    timeout: int, trigger: list[str], polls: list[str], shares: list[float]
) -> tuple[int, str, float, list[float], dict[str, str]]:
    time = FakeTime()
    started = time.now
    queues = {"POST": list(trigger), "GET": list(polls)}
    share_iter = iter(shares * 50 or [0.0])

    def handler(request: httpx.Request) -> httpx.Response:
        read = request.extensions["timeout"]["read"]
        queue = queues[request.method]
        kind = queue.pop(0) if len(queue) > 1 else queue[0]
        if kind == "slow":  # no answer within the timeout: the client gives up at it
            time.now += read
            raise httpx.ReadTimeout("timed out", request=request)
        time.now += next(share_iter, 0.5) * read  # an answer, after some of the timeout
        run = {"id": "r1", "status": "IN_PROGRESS" if kind == "in-progress" else "COMPLETED"}
        if kind in ("ok", "in-progress"):
            return httpx.Response(201 if request.method == "POST" else 200, json=run)
        if kind == "503":
            return httpx.Response(503, text="")
        if kind == "429":
            return httpx.Response(429, headers={"Retry-After": "7"}, json={"title": "slow"})
        if kind == "429-long":
            return httpx.Response(429, headers={"Retry-After": str(timeout * 2)})
        raise httpx.RemoteProtocolError("peer closed connection", request=request)  # drop

    with tempfile.TemporaryDirectory() as tmp:
        env = github_env(Path(tmp), "https://api.example.com", timeout=f"{timeout}s")
        result = invoke(env, time=time, transport=httpx.MockTransport(with_definition(handler)))
    return result.exit_code, result.log, time.now - started, time.sleeps, result.outputs


@pytest.mark.slow
@fuzz_few
@given(
    timeout=st.integers(1, 900),
    trigger=st.lists(ANSWERS, min_size=1, max_size=6),
    polls=st.lists(ANSWERS, min_size=1, max_size=10),
    shares=st.lists(st.floats(0, 1), max_size=5),
)
@example(timeout=60, trigger=["429-long"], polls=["ok"], shares=[])
@example(timeout=60, trigger=["ok"], polls=["in-progress", "429-long"], shares=[])
@example(timeout=5, trigger=["slow"], polls=["ok"], shares=[1.0])
@example(timeout=30, trigger=["in-progress"], polls=["slow"], shares=[1.0])
def test_the_whole_invocation_honours_timeout(
    timeout: int, trigger: list[str], polls: list[str], shares: list[float]
) -> None:
    """Whatever fails and however long answers take: the invocation ends within timeout plus
    one shortest request; running out of time is exit 3 on the trigger and 4 while waiting,
    and the log says the deadline was the reason."""
    code, log, took, sleeps, outputs = _cli(timeout, trigger, polls, shares)
    assert took <= timeout + MARGIN, (took, sleeps)
    assert code in (0, 3, 4), log
    assert "Traceback" not in log
    assert "internal error" not in log
    assert all(s < timeout + MARGIN for s in sleeps)
    if code == 4:
        assert "Gave up waiting" in log
        assert outputs["run-id"] == "r1"
    if "would come after the deadline" in log:
        assert code in (3, 4)
        if not outputs:  # the trigger itself ran out of time
            assert code == 3


@pytest.mark.slow
@fuzz_few
@given(
    retry_after=st.integers(0, 4000),
    timeout=st.integers(10, 1800),
    phase=st.sampled_from(["trigger", "wait"]),
)
def test_a_retry_after_past_the_deadline_ends_at_once_and_says_why(
    retry_after: int, timeout: int, phase: str
) -> None:
    """A Retry-After that would end past the deadline: no sleep at all for it, exit 3 on the
    trigger, 4 while waiting; one that fits is honoured to the second."""

    def handler_factory(time: FakeTime) -> httpx.MockTransport:
        state = {"limited": False}

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/workflows/runs") and request.method == "GET":
                return httpx.Response(200, json={"runs": []})  # the history: none
            hit = (phase == "trigger") == (request.method == "POST")
            if hit and not state["limited"]:
                state["limited"] = True
                return httpx.Response(429, headers={"Retry-After": str(retry_after)})
            status = "IN_PROGRESS" if request.method == "POST" else "COMPLETED"
            return httpx.Response(
                201 if request.method == "POST" else 200, json={"id": "r1", "status": status}
            )

        return httpx.MockTransport(with_definition(handler))

    time = FakeTime()
    with tempfile.TemporaryDirectory() as tmp:
        env = github_env(Path(tmp), "https://api.example.com", timeout=f"{timeout}s")
        result = invoke(env, time=time, transport=handler_factory(time))
    code, log = result.exit_code, result.log
    spent_before = sum(time.sleeps[:1]) if phase == "wait" else 0.0
    if retry_after >= timeout - spent_before:
        assert code == (3 if phase == "trigger" else 4), log
        assert "would come after the deadline" in log
        assert retry_after not in time.sleeps or retry_after == 0
    else:
        assert code == 0, log
        # Retry-After is honoured, with a floor of one second (no tight loop on "0").
        assert max(float(retry_after), 1.0) in time.sleeps

"""identity: is the answer the run asked for, and is it new? Pure functions over run objects;
the end-to-end cases are in tests/test_identity_e2e.py and tests/hosts/test_two_jobs.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cortex_action.client import is_busy, poll_is_transient
from cortex_action.errors import ApiError, ForeignRun, TransportError
from cortex_action.identity import Asked, check_trigger_answer, mismatches, replay_of
from cortex_action.models import parse_run

ASKED = Asked("deploy-service", "ENTITY", "service-backend")
SENT = dt.datetime(2026, 12, 6, 5, 0, 0, tzinfo=dt.UTC)


def run(**fields: Any) -> Any:
    return parse_run({"id": "r1", "status": "NOT_INITIATED", **fields})


@pytest.mark.parametrize(
    "fields",
    [
        {},  # nothing to check: say nothing
        {"workflow": {"cid": "wf5a1c0e7d9b3f2a41"}},  # a CID only; a tag was asked for
        {"workflow": {"tag": "Deploy-Service"}},  # tags compare without case
        {"workflow": {"id": 12345, "name": "Deploy service"}},  # a number and a display name
        {"workflow": "Deploy service"},  # a name in place of the object
        {"scope": {"type": "ENTITY", "entityId": "en1f2e3d4c5b6a7980"}},  # the entity's CID
        {"scope": {"type": "ENTITY"}, "entityId": 77},  # an internal number
        {"context": {"entity": {"tag": "service-backend", "id": "en1"}}},
    ],
)
def test_what_cannot_contradict_the_request_is_accepted(fields: dict[str, Any]) -> None:
    assert mismatches(run(**fields), ASKED) == []


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"workflow": {"tag": "scaffold-repo"}}, "belongs to workflow scaffold-repo"),
        ({"workflow": {"tag": "x-y", "cid": "wf0000000001"}}, "belongs to workflow x-y"),
        ({"scope": {"type": "ENTITY", "entityId": "service-frontend"}}, "not service-backend"),
        ({"scope": {"type": "GLOBAL"}}, "its scope is GLOBAL, not ENTITY"),
        ({"context": {"entity": {"tag": "a-b", "id": "en9f9f9f9f9f"}}}, "entity a-b"),
    ],
)
def test_what_contradicts_the_request_is_said(fields: dict[str, Any], said: str) -> None:
    found = mismatches(run(**fields), ASKED)
    assert found
    assert said in "; ".join(found)


@pytest.mark.parametrize("tag", ["cd202401", "db123456", "ab1234567890"])
def test_a_tag_shaped_like_a_cid_is_not_a_foreign_run(tag: str) -> None:
    """A workflow tag that happens to look like a CID, answered with the workflow's CID only:
    that was exit 3 "belongs to another request" for the very run the trigger started (the
    deploy went on, unfollowed). A CID's two letters say what it names: `cd` is no `wf`."""
    answer = run(workflow={"cid": "wf5a1c0e7d9b3f2a41"})
    assert mismatches(answer, Asked(tag, "GLOBAL", None)) == []
    # A real CID of a workflow is still compared; and a tag, with the answer's tag.
    assert mismatches(answer, Asked("wf0123456789", "GLOBAL", None))
    assert mismatches(run(workflow={"cid": "wf5a1c0e7d9b", "tag": "x"}), Asked(tag, "GLOBAL"))
    # The same for an entity: a CID-shaped tag against the entity's CID proves nothing.
    entity = run(scope={"type": "ENTITY", "entityId": "en1f2e3d4c5b6a7980"})
    assert mismatches(entity, Asked("deploy-service", "ENTITY", "be123456")) == []


def test_a_global_request_answered_with_an_entity_run() -> None:
    answer = run(scope={"type": "ENTITY", "entityId": "service-frontend"})
    assert mismatches(answer, Asked("deploy-service", "ENTITY", "service-frontend")) == []
    assert mismatches(run(scope={"entityId": "svc"}), Asked("wf", "GLOBAL", None))


def test_the_refusal_names_key_run_owner_and_fix() -> None:
    answer = run(id="r-9", workflow={"tag": "deploy-service"}, scope={"entityId": "svc-a"})
    with pytest.raises(ForeignRun) as caught:
        check_trigger_answer(answer, ASKED, key="k-1", key_source="given")
    text = caught.value.message
    assert "r-9" in text
    assert "k-1 (given)" in text
    assert "svc-a" in text
    assert "`idempotency-key`" in text


def test_replay_signs() -> None:
    fresh = run(dateCreated="2026-12-06T05:00:30Z")
    assert not replay_of(fresh, marker=False, attempts=1, sent_at=SENT).replayed
    # Within the clock-skew margin (60 s): not a sign.
    skewed = run(dateCreated="2026-12-06T04:59:10Z")
    assert not replay_of(skewed, marker=False, attempts=1, sent_at=SENT).replayed
    old = replay_of(run(createdAt=1764996000000), marker=False, attempts=1, sent_at=SENT)
    assert old.replayed
    assert "margin for clock skew" in old.signs[0]
    assert replay_of(run(), marker=True, attempts=1, sent_at=SENT).replayed
    done = replay_of(run(status="COMPLETED"), marker=False, attempts=1, sent_at=SENT)
    assert done.replayed
    assert "a new run cannot be yet" in done.signs[0]
    assert not replay_of(
        run(dateCreated="garbage"), marker=False, attempts=1, sent_at=SENT
    ).replayed


def test_after_a_retried_trigger_only_the_creation_time_counts() -> None:
    """The first attempt's answer was lost: the replayed run may be our own."""
    own = replay_of(run(), marker=True, attempts=2, sent_at=SENT)
    assert not own.replayed
    assert own.own_retry
    early = run(dateCreated="2026-12-06T04:00:00Z")
    assert replay_of(early, marker=True, attempts=2, sent_at=SENT).replayed


def _error(status: int, message: str, retry_after: float | None = None) -> ApiError:
    return ApiError(status, message, retry_after=retry_after)


@pytest.mark.parametrize(
    ("message", "retry_after", "busy"),
    [
        ("Conflict", 3.0, True),
        ("Concurrency limit reached", None, True),
        ("At most 5 workflow runs may run at once", None, True),
        ("Too many workflow runs", None, True),
        ("Idempotency-Key reused with a different request", None, False),
        ("Conflict", None, False),
        ("", None, False),
    ],
)
def test_a_409_is_busy_only_when_it_says_so(
    message: str, retry_after: float | None, busy: bool
) -> None:
    assert is_busy(_error(409, message, retry_after)) is busy


def test_poll_classification() -> None:
    assert poll_is_transient(TransportError("x"), lag=False)
    assert poll_is_transient(_error(503, "x"), lag=False)
    assert poll_is_transient(_error(429, "x"), lag=False)
    assert poll_is_transient(_error(404, "x"), lag=True)
    assert not poll_is_transient(_error(404, "x"), lag=False)
    assert not poll_is_transient(_error(401, "x"), lag=True)
    assert not poll_is_transient(ForeignRun("x"), lag=True)

"""Reading Cortex's run objects and listing pages into the model, as pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from cortex_action.errors import TransportError
from cortex_action.models import MISSING, ListPage, RunRow, as_text, ended_at, parse_page, parse_row


@pytest.mark.parametrize(
    ("value", "text"),
    [(" a ", "a"), (7, "7"), (1.5, "1.5"), ("  ", None), (True, None), (None, None), ({}, None)],
)
def test_as_text_takes_text_and_numbers_only(value: Any, text: str | None) -> None:
    """Text is stripped, numbers become text, blanks, booleans and the rest are None."""
    assert as_text(value) == text


def test_parse_row_reads_the_names_cortex_may_use() -> None:
    """Nested and flat names, an initiator object's email and an epoch start are all read."""
    raw = {
        "id": 12,
        "status": "completed",
        "workflowName": "Deploy",
        "context": {"entity": "svc", "initiator": {"email": "ada@example.com"}},
        "startedAt": 1_764_489_600_000,
    }
    assert parse_row(raw) == RunRow(
        id="12",
        status="COMPLETED",
        workflow="Deploy",
        entity="svc",
        started="2025-11-30 08:00:00Z",
        initiator="ada@example.com",
    )


def test_parse_row_of_an_empty_object_shows_missing() -> None:
    """A run object that says nothing still makes a row: ``-`` for id and status, else None."""
    assert parse_row({}) == RunRow(MISSING, MISSING, None, None, None, None)


def test_times_that_are_not_times_are_shown_as_sent() -> None:
    """An end time Cortex writes in another form is shown as it is, not dropped."""
    assert ended_at({"dateCompleted": "yesterday"}) == "yesterday"
    assert ended_at({"completedAt": "2026-11-30T10:00:00+02:00"}) == "2026-11-30 08:00:00Z"
    assert ended_at({}) is None


def test_parse_page_reads_spring_and_cortex_envelopes() -> None:
    """A Spring page (``content``) and a bare list both give the runs and the paging facts."""
    spring = {"content": [{"id": "a"}], "number": 2, "totalPages": 3, "totalElements": 21}
    assert parse_page(spring) == ListPage([{"id": "a"}], 2, 3, 21, None)
    assert parse_page([{"id": "a"}]) == ListPage([{"id": "a"}], None, None, 1, True)


@pytest.mark.parametrize("payload", ["text", {"a": [], "b": []}, {"runs": [1, "x"]}])
def test_parse_page_refuses_what_is_not_a_page_of_runs(payload: Any) -> None:
    """Not a page, two candidate lists, or a list of non-objects: a transport error."""
    with pytest.raises(TransportError):
        parse_page(payload)

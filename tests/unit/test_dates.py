"""``dates``: the listing's time filters parsed and resolved against a fixed now."""

from __future__ import annotations

import datetime as dt

import pytest

from cortex_action.dates import When, iso_utc, parse_instant, parse_when

NOW = dt.datetime(2026, 11, 30, 9, 0, 0, tzinfo=dt.UTC)


def test_a_date_is_midnight_utc() -> None:
    """A plain date is that day at 00:00 UTC."""
    assert parse_instant("2026-11-30") == dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30T08:00:00Z", dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)),
        ("2026-11-30t08:00:00z", dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)),
        ("2026-11-30 08:00:00Z", dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)),
        ("2026-11-30T10:00:00+02:00", dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)),
        ("2026-11-30T00:30:00-01:00", dt.datetime(2026, 11, 30, 1, 30, tzinfo=dt.UTC)),
        ("  2026-11-30T08:00:00.250Z ", dt.datetime(2026, 11, 30, 8, 0, 0, 250000, tzinfo=dt.UTC)),
    ],
)
def test_a_time_with_a_zone_becomes_utc(text: str, expected: dt.datetime) -> None:
    """A date and time with Z or an offset (T, t or a space between) is that instant in UTC."""
    instant = parse_instant(text)
    assert instant == expected
    assert instant.tzinfo == dt.UTC


def test_a_time_without_a_zone_is_refused_with_the_fix() -> None:
    """A naive date and time is refused, and the message says to add Z or an offset."""
    with pytest.raises(ValueError, match="has no time zone: add Z"):
        parse_instant("2026-11-30T08:00:00")


@pytest.mark.parametrize("text", ["2026-02-30", "2026-13-01"])
def test_an_impossible_date_is_refused(text: str) -> None:
    """A date of the right shape that does not exist is named as not a real date."""
    with pytest.raises(ValueError, match="is not a real date"):
        parse_instant(text)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_outside_the_calendar_in_utc_is_refused(text: str) -> None:
    """Real in its own zone, before year 1 or after 9999 in UTC: refused (it was an
    OverflowError, an internal error with exit 3, for `list --started-after`)."""
    with pytest.raises(ValueError, match="is out of range"):
        parse_instant(text)


@pytest.mark.parametrize(
    "text", ["2026-W48-1", "20261130", "20261130T080000Z", "yesterday", "30/11/2026", "2026-11-30T"]
)
def test_forms_not_promised_are_refused_with_the_accepted_forms(text: str) -> None:
    """ISO forms outside the documented shapes, and free text, are refused listing the forms."""
    with pytest.raises(ValueError, match="expected a date"):
        parse_instant(text)


def test_a_long_bad_value_is_cut_in_the_message() -> None:
    """The message quotes at most 60 characters of a bad value."""
    with pytest.raises(ValueError, match="expected a date") as caught:
        parse_instant("x" * 500)
    assert "x" * 61 not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("30m", dt.timedelta(minutes=30)),
        ("24h", dt.timedelta(hours=24)),
        ("7d", dt.timedelta(days=7)),
        ("1d12h", dt.timedelta(days=1, hours=12)),
        ("2w", dt.timedelta(weeks=2)),
        ("90s", dt.timedelta(seconds=90)),
        ("1W2D3H4M5S", dt.timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        (" 3650d ", dt.timedelta(days=3650)),
    ],
)
def test_an_age_is_parsed(text: str, age: dt.timedelta) -> None:
    """Ages combine w, d, h, m and s in that order, in either case, and are kept as ages."""
    assert parse_when(text) == When(age=age)


@pytest.mark.parametrize("text", ["0m", "0d0h", "3651d", "600w"])
def test_an_age_out_of_range_is_refused(text: str) -> None:
    """A zero age and one beyond 3650 days are refused with the allowed range."""
    with pytest.raises(ValueError, match="from 1s to 3650d"):
        parse_when(text)


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_value_is_refused(text: str) -> None:
    """An empty or blank value is refused as empty."""
    with pytest.raises(ValueError, match="got an empty value"):
        parse_when(text)


def test_an_age_in_the_wrong_order_is_not_an_age() -> None:
    """``12h1d`` is not an age (units go from large to small) and is refused."""
    with pytest.raises(ValueError, match="expected a date"):
        parse_when("12h1d")


def test_a_when_with_a_date_is_an_instant() -> None:
    """parse_when of a date gives a fixed instant that ignores now."""
    when = parse_when("2026-11-01")
    assert when == When(instant=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    assert when.resolve(NOW) == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def test_an_age_resolves_against_the_given_now_in_utc() -> None:
    """An age resolves to now minus the age, in UTC, even when now has another zone."""
    paris = dt.timezone(dt.timedelta(hours=1))
    resolved = parse_when("1d12h").resolve(NOW.astimezone(paris))
    assert resolved == dt.datetime(2026, 11, 28, 21, 0, tzinfo=dt.UTC)
    assert resolved.tzinfo == dt.UTC


@pytest.mark.parametrize(
    ("instant", "text"),
    [
        (dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC), "2026-11-30T08:00:00Z"),
        (dt.datetime(2026, 11, 30, 8, 0, 0, 250000, tzinfo=dt.UTC), "2026-11-30T08:00:00.250Z"),
        (
            dt.datetime(2026, 11, 30, 10, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2026-11-30T08:00:00Z",
        ),
    ],
)
def test_iso_utc_is_the_form_sent_to_cortex(instant: dt.datetime, text: str) -> None:
    """Instants go to Cortex in UTC with a Z, with milliseconds only when there are any."""
    assert iso_utc(instant) == text


def test_iso_utc_reads_back_as_the_same_instant() -> None:
    """What iso_utc writes, parse_instant reads back to the same instant (to the millisecond)."""
    instant = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert parse_instant(iso_utc(instant)) == instant

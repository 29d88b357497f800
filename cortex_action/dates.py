"""Points in time for the run listing's filters: ISO 8601 dates and times, or relative ages.

A value is parsed once into a ``When`` (validated with the other inputs, before any request) and
resolved against an injected "now" only when the listing is built, so tests pass a fixed now.
Cortex receives every instant as ISO 8601 in UTC (``2026-11-30T08:00:00Z``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

FORMS = (
    "a date (2026-11-30), a date and time with Z or an offset (2026-11-30T08:00:00Z, "
    "2026-11-30T10:00:00+02:00), or an age such as 30m, 24h, 7d or 1d12h"
)

_AGE = re.compile(
    r"(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Ages beyond this are typos (Cortex keeps 30 days); it also keeps datetime arithmetic in range.
_MAX_AGE = dt.timedelta(days=3650)


@dataclass(frozen=True)
class When:
    """Either a fixed instant (aware, UTC) or an age to subtract from "now"."""

    instant: dt.datetime | None = None
    age: dt.timedelta | None = None

    def resolve(self, now: dt.datetime) -> dt.datetime:
        if self.instant is not None:
            return self.instant
        assert self.age is not None
        return (now - self.age).astimezone(dt.UTC)


def parse_when(text: str) -> When:
    """``2026-11-30`` (midnight UTC), a time with ``Z`` or an offset, or an age like ``24h``."""
    value = text.strip()
    if not value:
        raise ValueError(f"expected {FORMS}, got an empty value")
    match = _AGE.fullmatch(value.lower())
    if match and any(match.groupdict().values()):
        w, d, h, m, s = (int(match.group(g) or 0) for g in "wdhms")
        age = dt.timedelta(weeks=w, days=d, hours=h, minutes=m, seconds=s)
        if not dt.timedelta(0) < age <= _MAX_AGE:
            raise ValueError(f"expected an age from 1s to 3650d, got {value!r}")
        return When(age=age)
    return When(instant=parse_instant(value))


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 date or a date and time with a zone, as an aware UTC datetime."""
    value = text.strip()
    if _DATE.fullmatch(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected {FORMS}; {value!r} is not a real date") from None
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    # fromisoformat also takes forms we don't promise (week dates, no separators); require
    # the plain shape: a date, then T or a space, then a time.
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}.*", value):
        raise ValueError(f"expected {FORMS}, got {value[:60]!r}")
    try:
        instant = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"expected {FORMS}, got {value[:60]!r}") from None
    if instant.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone: add Z for UTC or an offset such as +02:00")
    try:
        return instant.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first instant there is
        raise ValueError(f"expected {FORMS}; {value[:60]!r} is out of range") from None


def iso_utc(instant: dt.datetime) -> str:
    """``2026-11-30T08:00:00Z``: the form sent to Cortex (milliseconds only when present)."""
    utc = instant.astimezone(dt.UTC)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def check_window(after: dt.datetime, before: dt.datetime) -> None:
    """An empty window is a typo: ``started-after`` must be earlier than ``started-before``."""
    if after >= before:
        raise ValueError(
            "started-after: must be earlier than started-before "
            f"({iso_utc(after)} is not before {iso_utc(before)})"
        )

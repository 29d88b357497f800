"""Parsers for input values: booleans, durations, contexts, email lists.

Each parser takes the raw text a user wrote and returns a typed value or raises ``ValueError``
with a message that says what was expected. None of them ever echoes a secret.
"""

from __future__ import annotations

import json
import re
from typing import Any

_DURATION = re.compile(r"(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s?)?")
# A deliberately loose check: Cortex decides what a valid user is; we only catch obvious typos.
_EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+")
# Printable ASCII without spaces: what an HTTP header value can carry safely.
_HEADER_TOKEN = re.compile(r"[\x21-\x7e]{1,255}")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")

DURATION_FORMS = "a number of seconds or a duration such as 90, 90s, 15m, 1h30m or 1d"


def parse_bool(text: str) -> bool:
    """``true`` or ``false`` in any case; anything else is an error, never a default."""
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValueError(f"expected true or false, got {_show(text)}")


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``1h30m``, ``1d``; more than zero, at most 7 days."""
    stripped = text.strip().lower()
    match = _DURATION.fullmatch(stripped) if len(stripped) <= 32 else None
    if not stripped or match is None:
        raise ValueError(f"expected {DURATION_FORMS}, got {_show(text)}")
    days, hours, minutes, seconds = (int(match.group(g) or 0) for g in ("d", "h", "m", "s"))
    total = days * 86400 + hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"expected a duration of at least 1s, got {_show(text)}")
    if total > 7 * 24 * 3600:
        raise ValueError(f"expected a duration of at most 7 days (168h), got {_show(text)}")
    return float(total)


def parse_context(text: str) -> dict[str, Any]:
    """A JSON object (types kept) or lines of ``key=value`` (string values)."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            value = json.loads(stripped)
            # What httpx will send: strict JSON, so NaN, Infinity and 1e400 (a float overflow)
            # must be refused here, not when the request body is encoded.
            json.dumps(value, allow_nan=False, ensure_ascii=False).encode()
        except UnicodeEncodeError:  # a lone surrogate such as "\ud800": not sendable as UTF-8
            raise ValueError(
                "looks like JSON but holds an escape (\\ud800-\\udfff) that is not valid text"
            ) from None
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"looks like JSON but does not parse: {exc.msg} at line {exc.lineno} "
                f"column {exc.colno}"
            ) from None
        except RecursionError:
            raise ValueError("looks like JSON but is nested too deeply to read") from None
        except ValueError:  # NaN/Infinity, or an integer too long to convert
            raise ValueError(
                "looks like JSON but holds NaN, Infinity, or a number too large to send "
                "(past a float's range, or thousands of digits long)"
            ) from None
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object, got a JSON {type(value).__name__}")
        return value
    context: dict[str, Any] = {}
    for number, raw_line in enumerate(stripped.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"line {number}: expected key=value, got {_show(line)}")
        if not _KEY.fullmatch(key):
            raise ValueError(
                f"line {number}: expected a key of letters, digits, '_', '.' or '-' "
                f"before '=', got {_show(key)}"
            )
        if key in context:
            raise ValueError(f"line {number}: key {key!r} is given twice")
        context[key] = _unquote(value.strip())
    return context


def _unquote(value: str) -> str:
    """``environment="prod"`` means prod, as in a shell or a .env file: one matching pair of
    quotes around the whole value is taken off (documented in the README); inner quotes stay."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def single_line(text: str, limit: int) -> str:
    """Text on one line, trimmed: no control characters, at most ``limit`` characters."""
    value = text.strip()
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("expected a single line without control characters")
    if len(value) > limit:
        raise ValueError(f"expected at most {limit} characters")
    return value


def parse_email(text: str) -> str:
    """One email address, trimmed."""
    value = text.strip()
    if not _EMAIL.fullmatch(value):
        raise ValueError(
            f"expected an email address such as deployer@example.com, got {_show(value)}"
        )
    return value


def split_list(value: str | list[Any] | tuple[Any, ...]) -> list[str]:
    """Items given repeated or separated by commas or newlines, trimmed; empty ones skipped."""
    items = [value] if isinstance(value, str) else [str(v) for v in value]
    return [n.strip() for item in items for n in re.split(r"[,\n]", item) if n.strip()]


def parse_email_list(text: str) -> tuple[str, ...]:
    """Emails separated by commas or newlines; empty items are skipped."""
    emails = split_list(text)
    bad = [item for item in emails if not _EMAIL.fullmatch(item)]
    if bad:
        raise ValueError(
            "expected email addresses separated by commas or newlines; not an email: "
            + ", ".join(_show(b) for b in bad)
        )
    return tuple(dict.fromkeys(emails))


def parse_header_token(text: str) -> str:
    """A value that is safe in an HTTP header: 1 to 255 printable ASCII characters, no spaces."""
    value = text.strip()
    if not _HEADER_TOKEN.fullmatch(value):
        raise ValueError(
            "expected 1 to 255 printable ASCII characters without spaces, got " + _show(value)
        )
    if _UNEXPANDED.search(value):
        # A CI expression or variable that was never expanded (single quotes, a GitHub
        # expression pasted into another CI, a variable that is not set): sent as is, it would
        # name no callback or run, or be the same idempotency key for every pipeline.
        raise ValueError(
            f"got {_show(value)}, which looks like a CI expression or variable that was not "
            "expanded: pass its value (check the quoting, and that the variable is set)"
        )
    return value


# ``${{ ... }}`` anywhere, or the whole value one ``$NAME``, ``${NAME}`` or ``$(...)``.
_UNEXPANDED = re.compile(r"\$\{\{|^\$(\{?[A-Za-z_][A-Za-z0-9_]*\}?|\(.*\))$")


def _show(text: str, limit: int = 60) -> str:
    """Quote a user's value for an error message, shortened and with controls made visible."""
    shown = text if len(text) <= limit else text[:limit] + "…"
    return repr(shown)

"""Retries with backoff, jitter, ``Retry-After`` and one deadline, in one place.

The loop owns no clock and no sleep of its own: both are injected, so tests run it instantly and
the deadline is the same one the waiting loop uses.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import backoff

from cortex_action.errors import CortexError, DeadlineReached, RetriesExhausted

T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request before giving up with exit 3."""

    max_attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 30.0
    # Per-attempt HTTP timeout; shortened near the deadline so we never overshoot it by much.
    request_timeout: float = 30.0
    min_request_timeout: float = 2.0


class Transient(Exception):
    """A failure worth another attempt; carries the error to report if attempts run out.

    ``counts`` is False for "busy, come back later" answers (429, a trigger's 409 at the limit of
    concurrent runs): those are retried until the deadline, not against ``max_attempts``.
    """

    def __init__(
        self, error: CortexError, retry_after: float | None = None, *, counts: bool = True
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after
        self.counts = counts


@dataclass(frozen=True)
class RetryNotice:
    """Told to the caller before each sleep, so the log can say what happens and why."""

    attempt: int
    delay: float
    reason: str
    remaining: float


def equal_jitter(value: float) -> float:
    """Half fixed, half random: spreads clients out without ever retrying at once."""
    return value / 2 + float(backoff.full_jitter(value / 2))


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:  # "inf", "nan", "1e400": not a number of seconds anyone can wait
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


def _seconds(value: float) -> str:
    """``3s``, ``0.4s``, ``12s``: a tenth of a second where it matters, whole seconds past ten."""
    if value > 366 * 86400:
        return "more than a year"
    return f"{value:.0f}s" if value >= 10 or value == int(value) else f"{value:.1f}s"


def call_with_retries(  # noqa: PLR0913 - keyword-only: the policy's seams, injected
    attempt: Callable[[float], T],
    *,
    what: str,
    deadline: float,
    clock: Clock,
    sleep: Sleep,
    policy: RetryPolicy = RetryPolicy(),
    jitter: Callable[[float], float] = equal_jitter,
    notify: Callable[[RetryNotice], None] | None = None,
) -> T:
    """Call ``attempt(timeout)`` until it returns, raises a final error, or the budget runs out.

    ``attempt`` raises ``Transient`` for what is worth retrying; anything else propagates at once.
    """
    delays: Iterator[float] = backoff.expo(factor=policy.base_delay, max_value=policy.max_delay)
    next(delays)  # backoff's generators start with a priming yield
    number = 0  # attempts made
    failures = 0  # of them, failures that count against max_attempts
    while True:
        number += 1
        remaining = deadline - clock()
        timeout = max(policy.min_request_timeout, min(policy.request_timeout, remaining))
        try:
            return attempt(timeout)
        except Transient as transient:
            last = transient
        remaining = deadline - clock()
        failures += last.counts
        if failures >= policy.max_attempts:
            raise RetriesExhausted(
                f"{last.error}\nGave up on {what} after {number} attempts."
            ) from None
        if last.retry_after is not None:
            # Never below base_delay: a "Retry-After: 0" answered again and again must not turn
            # into a tight loop until the deadline.
            delay = max(last.retry_after, policy.base_delay)
            reason = f"Cortex asked to retry after {_seconds(last.retry_after)}"
            when = reason if delay == last.retry_after else f"in {_seconds(delay)} ({reason})"
        else:
            delay = jitter(next(delays))
            reason = "retrying with backoff"
            when = f"in {_seconds(delay)} (backoff)"
        if delay >= remaining:
            raise DeadlineReached(
                f"{last.error}\nGave up on {what} after {number} attempt"
                f"{'s' if number > 1 else ''}: the next attempt would come after the deadline: "
                f"{when}, with {_seconds(max(0.0, remaining))} left of `timeout`."
            ) from None
        if notify is not None:
            notify(
                RetryNotice(
                    number,
                    delay,
                    f"{last.error.message.splitlines()[0].rstrip('.')}; {reason}",
                    remaining,
                )
            )
        sleep(delay)

"""What every command gets, injected by the CLI: its settings, the host, the client, time, and
the record of what is known so far (``progress``), which the CLI reads if an error stops it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cortex_action.client import CortexClient
from cortex_action.endings import Progress
from cortex_action.hosts.base import Host
from cortex_action.retry import Clock, Sleep
from cortex_action.settings import Settings

S = TypeVar("S", bound=Settings)


@dataclass(frozen=True)
class Context(Generic[S]):
    settings: S
    host: Host
    client: CortexClient
    clock: Clock  # monotonic seconds, for deadlines and durations
    sleep: Sleep
    now: Callable[[], dt.datetime]  # the wall clock (aware, UTC), for reports and dates
    progress: Progress

    @property
    def runs_url(self) -> str:
        return self.progress.runs_url

    def wall(self) -> str:
        """The current time as ISO 8601 UTC, for reports."""
        return self.now().astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def runs_url(settings: Settings) -> str:
    """Cortex gives no link to one run in its API; this is the page that lists runs."""
    return f"{settings.web_url}/admin/workflows?activeTab=runs"

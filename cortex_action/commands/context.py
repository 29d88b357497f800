"""What every command gets: settings, host, client and time, injected by the CLI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cortex_action.client import CortexClient
from cortex_action.hosts.base import Host
from cortex_action.retry import Clock, Sleep
from cortex_action.settings import Settings


@dataclass(frozen=True)
class Context:
    settings: Settings
    host: Host
    client: CortexClient
    clock: Clock  # monotonic seconds, for deadlines and durations
    sleep: Sleep
    wall: Callable[[], str]  # the current time as ISO 8601 UTC, for reports

    @property
    def runs_url(self) -> str:
        """Cortex gives no link to one run in its API; this is the page that lists runs."""
        return f"{self.settings.web_url}/admin/workflows?activeTab=runs"

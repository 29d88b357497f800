"""Fixtures of the emulator's own tests: the public fixtures plus a manual clock and clients."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cortex_action.emulator import EmulatorServer
from cortex_action.emulator.testing import EmulatorFactory, emulator, make_emulator

__all__ = ["emulator", "make_emulator"]

# One TLS context for every client: building one per client costs ~50 ms (tests use plain HTTP).
SSL_CONTEXT = ssl.create_default_context()

GLOBAL: dict[str, Any] = {"scope": {"type": "GLOBAL"}}
FRONTEND: dict[str, Any] = {"scope": {"type": "ENTITY", "entityId": "service-frontend"}}


class ManualClock:
    """A clock that moves only when told to, so run timelines are exact."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock starting at a fixed instant."""
    return ManualClock()


@pytest.fixture
def timed(make_emulator: EmulatorFactory, clock: ManualClock) -> EmulatorServer:
    """An emulator with the default config at speed 1 on the manual clock."""
    return make_emulator(speed=1.0, clock=clock)


def api_client(emu: EmulatorServer, token: str | None = None) -> httpx.Client:
    """An httpx client for the emulator's API, authenticated with ``token`` (default: full)."""
    headers = {"Accept": "application/json"}
    if token != "":
        headers["Authorization"] = f"Bearer {token or emu.token}"
    return httpx.Client(
        base_url=f"{emu.url}/api/v1", headers=headers, timeout=10, verify=SSL_CONTEXT
    )


@pytest.fixture
def client(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """A client of the default ``emulator`` with the full-permission token."""
    with api_client(emulator) as c:
        yield c


@pytest.fixture
def tclient(timed: EmulatorServer) -> Iterator[httpx.Client]:
    """A client of the manual-clock emulator ``timed``."""
    with api_client(timed) as c:
        yield c

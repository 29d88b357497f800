"""Fixtures for the host tests: the Cortex emulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import EmulatedCortex, emulated_cortex


@pytest.fixture
def emulated() -> Iterator[EmulatedCortex]:
    """The project's emulator, on a fake clock it shares with the command under test.

    (Not the suite-wide ``cortex`` fixture, a scripted stand-in on pytest-httpserver.)
    """
    with emulated_cortex() as cortex:
        yield cortex

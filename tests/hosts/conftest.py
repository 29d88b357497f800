"""Fixtures for the host tests: the Cortex emulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import Cortex, started_cortex


@pytest.fixture
def cortex() -> Iterator[Cortex]:
    with started_cortex() as cortex:
        yield cortex

"""Shared fixtures for the get / wait / list tests: a Cortex stand-in on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture
def api(httpserver: HTTPServer) -> Iterator[HTTPServer]:
    """A plain pytest-httpserver standing in for Cortex's API; each test sets its answers.

    (Not the suite-wide ``cortex`` fixture: these tests need exact control of the listing.)
    """
    yield httpserver
    httpserver.check_assertions()

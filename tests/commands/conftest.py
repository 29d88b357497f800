"""Shared fixtures for the get / wait / list tests: a Cortex stand-in on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture
def cortex(httpserver: HTTPServer) -> Iterator[HTTPServer]:
    """pytest-httpserver, checked afterwards for requests that matched nothing."""
    yield httpserver
    httpserver.check_assertions()

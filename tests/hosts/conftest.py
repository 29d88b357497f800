"""Fixtures for the host tests: a Cortex-compatible server on loopback."""

from __future__ import annotations

import re

import pytest
from pytest_httpserver import HTTPServer

from .support import FakeCortex


@pytest.fixture
def cortex(httpserver: HTTPServer) -> FakeCortex:
    fake = FakeCortex(httpserver)
    httpserver.expect_request(re.compile(r"/.*")).respond_with_handler(fake.handle)
    return fake

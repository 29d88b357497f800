from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from tests.support import ScriptedCortex

pytest_plugins = ["cortex_action.emulator.testing"]


@pytest.fixture
def cortex(httpserver: HTTPServer) -> ScriptedCortex:
    """A scripted Cortex on loopback; each test sets its trigger answer and run statuses."""
    return ScriptedCortex(httpserver)

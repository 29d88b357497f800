"""Which CI host we run on, from the injected environment, in a fixed order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

from cortex_action.hosts.base import Host
from cortex_action.hosts.github import GitHubHost
from cortex_action.hosts.local import LocalHost


def detect_host(env: Mapping[str, str], out: TextIO, err: TextIO) -> Host:
    """GitHub Actions, else a local shell (GitLab and Jenkins adapters plug in here)."""
    if env.get("GITHUB_ACTIONS", "").lower() == "true":
        return GitHubHost(env, out, err)
    return LocalHost(env, out, err)

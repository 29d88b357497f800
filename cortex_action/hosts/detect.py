"""Which CI host we run on, from the injected environment, in a fixed order.

This is the only place that looks at which host this is; everything else asks the adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

from cortex_action.hosts.base import Host
from cortex_action.hosts.github import GitHubHost
from cortex_action.hosts.gitlab import GitLabHost
from cortex_action.hosts.jenkins import JenkinsHost
from cortex_action.hosts.local import LocalHost


def host_class(env: Mapping[str, str]) -> type[Host]:
    """GitHub Actions, then GitLab CI, then Jenkins, else a local shell (or a CI we don't know)."""
    if env.get("GITHUB_ACTIONS", "").strip().lower() == "true":
        return GitHubHost
    if env.get("GITLAB_CI", "").strip().lower() == "true":
        return GitLabHost
    if env.get("JENKINS_URL", "").strip():
        return JenkinsHost
    return LocalHost


def detect_host(
    env: Mapping[str, str], out: TextIO, err: TextIO, *, output_dir: str | None = None
) -> Host:
    return host_class(env)(env, out, err, output_dir=output_dir)

"""One ``cortex-action.env`` for three readers: Jenkins' ``readProperties``
(java.util.Properties, run by a real JVM), a POSIX shell (``sh -c '. ./cortex-action.env'``) and
GitLab's dotenv report parser (its rules emulated in ``readers.parse_gitlab_dotenv``: GitLab's
``Ci::ParseDotenvArtifactService`` splits each line at the first ``=``, strips both sides and
keeps every other character as it is). All three must give the same values; a value outside
their common ground is percent-encoded, so ``urllib.parse.unquote`` gives it back exactly.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from cortex_action.render import result_files as render_files
from cortex_action.render.outputs import result_variables
from cortex_action.report import Report
from tests.readers import java_load_properties, parse_gitlab_dotenv, shell_source
from tests.render.test_result_files import AWKWARD
from tests.support import EmulatedCortex

# A run link with `:` and `=` (and `?`, `&`, `#`, `~`, `%`), as a self-hosted Cortex might give.
EMPTY = Report(command="run", workflow="w", exit_code=0, headline="")
RUN_URL = "https://cortex.example:8443/admin/workflows/w?activeTab=runs&run=a=b#x~y%z"


def read_three_ways(
    path: Path, names: list[str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    gitlab = parse_gitlab_dotenv(path.read_bytes())
    shell = shell_source(path, names)
    java = java_load_properties(path, tmp_path_factory)
    assert gitlab == shell, "GitLab's dotenv parser and sh read different values"
    assert gitlab == java, "GitLab's dotenv parser and java.util.Properties read different values"
    return gitlab


def test_a_run_url_with_colon_and_equals_reads_the_same_everywhere(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    plain = "https://cortex.example:8443/admin/workflows/deploy?activeTab=runs"
    variables = {"CORTEX_RUN_URL": plain, "CORTEX_RUN_ID": "7f3c-1", "CORTEX_ODD": RUN_URL}
    path = tmp_path / render_files.ENV_FILE
    path.write_text(render_files.dotenv(variables), encoding="utf-8")

    values = read_three_ways(path, list(variables), tmp_path_factory)

    # `:` and `=` stay as they are: the link reads as written, with no backslashes.
    assert values["CORTEX_RUN_URL"] == plain
    assert "\\" not in path.read_text(encoding="utf-8")
    # A character none of the three agree on is percent-encoded, and decodes back exactly.
    assert values["CORTEX_ODD"] != RUN_URL
    assert unquote(values["CORTEX_ODD"]) == RUN_URL


def test_awkward_values_read_the_same_everywhere(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    variables = {f"V{i}": value for i, value in enumerate([*AWKWARD, RUN_URL, "~", "a:~b"])}
    path = tmp_path / render_files.ENV_FILE
    path.write_text(render_files.dotenv(variables), encoding="utf-8")

    values = read_three_ways(path, list(variables), tmp_path_factory)

    assert {k: unquote(v) for k, v in values.items()} == {k: v for k, v in variables.items() if v}


def test_jenkins_writes_the_file_all_three_read(
    emulated: EmulatedCortex, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = {
        "JENKINS_URL": "https://jenkins.example.com/",
        "BUILD_URL": "https://jenkins.example.com/job/app/3/",
        "WORKSPACE": str(tmp_path),
        "CORTEX_API_TOKEN": emulated.token,
        "CORTEX_BASE_URL": emulated.url,
        "CORTEX_WORKFLOW": "deploy-service",
        "CORTEX_ENTITY": "service-frontend",
    }

    result = emulated.run([], env)

    assert result.exit_code == 0, result.stderr
    names = list(result_variables(EMPTY))
    values = read_three_ways(tmp_path / render_files.ENV_FILE, names, tmp_path_factory)
    assert values["CORTEX_RUN_STATUS"] == "COMPLETED"
    assert values["CORTEX_RUN_URL"].startswith("http")
    assert "\\" not in (tmp_path / render_files.ENV_FILE).read_text(encoding="utf-8")

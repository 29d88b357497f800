"""The configuration: the built-in default, the shipped example, files, overrides and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cortex_action.emulator import ConfigError, EmulatorConfig, default_config, load_config
from cortex_action.emulator.config import parse_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "emulator.yaml"


def test_default_config_has_the_promised_tokens_and_workflows() -> None:
    """The built-in config has the documented tokens, entities and workflows."""
    cfg = default_config()
    perms = {t.value: set(t.permissions) for t in cfg.tokens}
    assert perms["emulator-token"] == {"trigger", "view"}
    assert perms["emulator-view-only"] == {"view"}
    assert perms["emulator-no-access"] == set()
    assert {e.tag for e in cfg.entities} >= {"service-frontend", "service-backend"}
    wfs = {w.tag: w for w in cfg.workflows}
    assert wfs["deploy-service"].scope == "ENTITY"
    assert set(wfs["deploy-service"].variables) >= {"environment", "version"}
    assert len(wfs["deploy-service"].blocks) == 3
    assert wfs["scaffold-repo"].scope == "GLOBAL"
    assert "fail" in {b.outcome for b in wfs["failing-deploy"].blocks}
    assert "approval" in {b.outcome for b in wfs["needs-approval"].blocks}
    assert wfs["needs-initiator"].requires_initiator
    assert "timeout" in {b.outcome for b in wfs["times-out"].blocks}
    assert not wfs["not-runnable"].is_runnable_via_api
    assert all(w.id.startswith("wf") and w.name for w in cfg.workflows)


def test_demo_workflow_takes_a_few_seconds_at_speed_1() -> None:
    """deploy-service lasts 3 to 6 seconds at speed 1, so a person sees its statuses change."""
    cfg = default_config()
    wf = next(w for w in cfg.workflows if w.tag == "deploy-service")
    assert 3 <= cfg.behaviour.start_delay + sum(b.duration for b in wf.blocks) <= 6


def test_shipped_example_loads() -> None:
    """examples/emulator.yaml is a valid config using every section."""
    cfg = load_config(EXAMPLE)
    assert cfg.tokens
    assert cfg.entities
    assert cfg.workflows
    assert cfg.faults
    assert cfg.entities[1].id.startswith("en")


def test_json_config_file(tmp_path: Path) -> None:
    """A .json file with the same shape loads, and snake_case keys work too."""
    path = tmp_path / "emu.json"
    path.write_text(
        json.dumps({"workflows": [{"tag": "w", "is_runnable_via_api": False}]}), encoding="utf-8"
    )
    assert load_config(path).workflows[0].is_runnable_via_api is False


def test_overrides_merge_into_the_default() -> None:
    """default_config(overrides) merges mappings key by key and keeps everything else."""
    cfg = default_config({"behaviour": {"concurrency": {"mode": "refuse"}}})
    assert cfg.behaviour.concurrency.mode == "refuse"
    assert cfg.behaviour.concurrency.limit == 5
    assert len(cfg.workflows) == len(default_config().workflows)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"workflows": [{"tag": "a"}, {"tag": "a"}]}, "duplicate workflow tag or id: a"),
        ({"tokens": [{"value": "t", "permissions": ["admin"]}]}, "tokens.0.permissions.0"),
        ({"workflow": []}, "workflow: Extra inputs are not permitted"),
        ({"faults": [{"status": 500, "drop": "after"}]}, "at most one of status, drop, malform"),
        ({"behaviour": {"idempotency": {"conflict": "410"}}}, "behaviour.idempotency.conflict"),
        ([1, 2], "the top level must be a mapping"),
    ],
)
def test_invalid_configs_name_the_problem(data: object, needle: str) -> None:
    """Invalid configs raise ConfigError whose message names the offending key."""
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert needle in str(err.value)


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    """Unparsable YAML and a missing file raise ConfigError naming the file."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("tokens: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML/JSON"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")


def test_parse_config_accepts_a_model() -> None:
    """An EmulatorConfig passes through parse_config unchanged."""
    cfg = EmulatorConfig()
    assert parse_config(cfg) is cfg

"""Rules: the seed's defaults, user tables merged over them, one-line errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasmwatch import cli
from wasmwatch.alerts.rules import DEFAULT_RULES, load_rules, parse_duration_ms
from wasmwatch.config import load
from wasmwatch.errors import ConfigError


def test_defaults_carry_the_seed_thresholds_and_severities() -> None:
    """Seven default rules, with the seed's numbers and severities."""
    rules = {r.name: r for r in load_rules([])}
    assert set(rules) == {"slow_bundle_load", "high_operation_latency", "high_error_rate",
                          "memory_pressure", "offline_backlog", "performance_regression",
                          "critical_error"}
    assert rules["slow_bundle_load"].threshold == 5000
    assert rules["high_operation_latency"].threshold == 1000
    assert rules["high_error_rate"].threshold == 0.05
    assert rules["memory_pressure"].threshold == 10_485_760
    assert rules["offline_backlog"].threshold == 100
    assert rules["performance_regression"].threshold == 1.5
    assert rules["critical_error"].kind == "instant"
    severity = {name: r.severity for name, r in rules.items()}
    assert severity == {"critical_error": "critical", "high_error_rate": "critical",
                        "performance_regression": "warning", "memory_pressure": "warning",
                        "slow_bundle_load": "warning", "high_operation_latency": "info",
                        "offline_backlog": "info"}
    assert rules["high_operation_latency"].min_samples == 20


def test_a_user_rule_replaces_a_default_and_enabled_false_drops_one() -> None:
    """Same name replaces the default's fields given; enabled = false turns it off."""
    rules = {r.name: r for r in load_rules([
        {"name": "slow_bundle_load", "threshold": 3000, "window": "10m"},
        {"name": "memory_pressure", "enabled": False},
        {"name": "fps_low", "kind": "threshold", "metric": "measurement:fps", "stat": "avg",
         "op": "<", "threshold": 30, "group_by": ["browser"], "where": {"release": "2.0"}},
    ])}
    assert rules["slow_bundle_load"].threshold == 3000
    assert rules["slow_bundle_load"].window_ms == 600_000
    assert rules["slow_bundle_load"].stat == "p95"  # kept from the default
    assert "memory_pressure" not in rules
    assert rules["fps_low"].measurement == "fps"
    assert rules["fps_low"].where == (("release", "2.0"),)
    assert len(rules) == len(DEFAULT_RULES) + 1 - 1


@pytest.mark.parametrize(("table", "field"), [
    ({"name": "x", "kind": "sometimes", "metric": "operation", "threshold": 1}, "kind"),
    ({"name": "x", "kind": "threshold", "metric": "cpu", "threshold": 1}, "metric"),
    ({"name": "x", "kind": "threshold", "metric": "operation", "threshold": "high"}, "threshold"),
    ({"name": "x", "kind": "threshold", "metric": "operation", "threshold": 1, "window": "5 min"},
     "window"),
    ({"name": "x", "kind": "threshold", "metric": "operation", "threshold": 1,
      "group_by": ["user"]}, "group_by"),
    ({"name": "x", "kind": "threshold", "metric": "operation", "threshold": 1,
      "description": "{nope}"}, "description"),
    ({"name": "x", "kind": "threshold", "metric": "operation", "threshold": 1, "colour": 1},
     "colour"),
    ({"name": "x", "kind": "threshold", "metric": "operation"}, "threshold"),
    ({"name": "x", "kind": "rate", "metric": "operation", "threshold": 1}, "metric"),
    ({"name": "slow_bundle_load", "min_samples": 0}, "min_samples"),
    ({"name": "x", "kind": "threshold", "metric": "operation", "threshold": 1, "stat": "p42"},
     "stat"),
])
def test_a_bad_rule_names_the_rule_and_the_field(table: dict[str, object], field: str) -> None:
    """One line, with the rule's name and the field."""
    with pytest.raises(ConfigError) as info:
        load_rules([table])
    message = str(info.value)
    assert "\n" not in message
    assert f"rule {table['name']!r}" in message
    assert f"field {field!r}" in message


def test_durations() -> None:
    """Strings like 10s, 5m, 1h; 0s allowed; others refused."""
    assert parse_duration_ms("10s") == 10_000
    assert parse_duration_ms("5m") == 300_000
    assert parse_duration_ms("0s") == 0
    with pytest.raises(ValueError):
        parse_duration_ms("5")


def test_rules_from_toml_beside_a_wasmwatch_table(tmp_path: Path) -> None:
    """[[rules]] tables are read whether or not the file has a [wasmwatch] table."""
    path = tmp_path / "c.toml"
    path.write_text('[wasmwatch]\nport = 9999\n\n[[rules]]\nname = "slow_bundle_load"\n'
                    'threshold = 4000\n')
    settings = load({"config": str(path)}, environ={})
    assert settings.port == 9999
    assert {r.name: r for r in load_rules(settings.rules)}["slow_bundle_load"].threshold == 4000


def test_serve_refuses_a_bad_rule_with_one_line(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`wasmwatch serve` exits 2 before starting, naming the rule and the field."""
    path = tmp_path / "c.toml"
    path.write_text('[[rules]]\nname = "my_rule"\nkind = "threshold"\nmetric = "operation"\n'
                    'threshold = 1\nwindow = "forever"\n')
    code = cli.main(["serve", "--config", str(path), "--data-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "rule 'my_rule': field 'window'" in err

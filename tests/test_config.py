"""Settings: defaults, TOML, environment and flags, in that order."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasmwatch.config import load
from wasmwatch.errors import ConfigError


def test_defaults() -> None:
    """Without anything given, the contract's defaults apply."""
    s = load({}, environ={})
    assert (s.host, s.port, s.data_dir, s.retention_days) == ("127.0.0.1", 8787, "./wasmwatch-data", 30)
    assert s.max_body_bytes == 1 << 20


def test_precedence(tmp_path: Path) -> None:
    """TOML < environment < flags."""
    toml = tmp_path / "ww.toml"
    toml.write_text('[wasmwatch]\nport = 9000\nretention_days = 7\nhost = "0.0.0.0"\n')
    env = {"WASMWATCH_PORT": "9100", "WASMWATCH_LOG_LEVELS": '{"wasmwatch.ingest": "DEBUG"}',
           "WASMWATCH_ALLOWED_ORIGINS": "https://a.example, https://b.example"}
    s = load({"config": str(toml), "port": 9200}, environ=env)
    assert (s.port, s.retention_days, s.host) == (9200, 7, "0.0.0.0")
    assert s.log_levels == {"wasmwatch.ingest": "DEBUG"}
    assert s.allowed_origins == ["https://a.example", "https://b.example"]


def test_bad_values_are_config_errors(tmp_path: Path) -> None:
    """A bad value, an unknown key or a missing file is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="port"):
        load({}, environ={"WASMWATCH_PORT": "eighty"})
    bad = tmp_path / "bad.toml"
    bad.write_text("nonsense_key = 1\n")
    with pytest.raises(ConfigError, match="nonsense_key"):
        load({"config": str(bad)}, environ={})
    with pytest.raises(ConfigError, match="not found"):
        load({"config": str(tmp_path / "none.toml")}, environ={})

"""Settings: declared once, with defaults, and read from the outside world in one place.

Precedence, lowest first: the defaults below, a TOML file (``--config F`` or
``WASMWATCH_CONFIG``), ``WASMWATCH_*`` environment variables, command-line flags. Every field
has a variable named after it in upper case: ``retention_days`` is ``WASMWATCH_RETENTION_DAYS``.
Mappings in the environment are JSON (``WASMWATCH_LOG_LEVELS='{"wasmwatch.ingest": "DEBUG"}'``),
lists are comma separated.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from wasmwatch.errors import ConfigError

ENV_PREFIX = "WASMWATCH_"


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8787
    data_dir: str = "./wasmwatch-data"
    config: str | None = None
    #: public key of the default project; made on first start when unset
    ingest_key: str | None = None
    #: bearer token for the dashboard and the query API; made on first start when unset
    admin_token: str | None = None
    #: origins allowed to send to the default project; empty means any
    allowed_origins: list[str] = []
    log_level: str = "WARNING"
    log_levels: dict[str, str] = {}
    #: request body limit, checked while reading and again after gunzip
    max_body_bytes: int = 1 << 20
    max_items_per_batch: int = 1000
    #: items waiting to be committed before ingest answers 503
    queue_max_items: int = 300_000
    #: items per group commit at most (from 122,880 on, DuckDB writes row groups directly)
    commit_max_items: int = 150_000
    #: per-project ingest rate, items per second, with a burst of twice that
    rate_limit: float = 200_000.0
    retention_days: int = 30
    #: how often retention and rollup compaction run
    maintenance_interval_s: float = 60.0
    #: clock skew below this is left alone
    skew_tolerance_ms: int = 2000
    poll_interval_s: float = 10.0
    #: distinct values kept per metric tag before the rest go to "other"
    max_tag_values: int = 50
    demo: bool = True
    dashboard: bool = True
    # -- dashboard budgets and insights (the seed's defaults; served by GET /api/v1/summary)
    budget_first_load_ms: float = 2000.0
    budget_cached_load_ms: float = 500.0
    budget_compile_instantiate_ms: float = 300.0
    budget_runtime_init_ms: float = 500.0
    budget_operation_ms: float = 50.0
    budget_memory_bytes: int = 10 * 1024 * 1024
    budget_error_rate: float = 0.05
    budget_pending_offline: int = 100
    #: a release is flagged in GET /api/v1/releases when a mean is this many times the
    #: previous release's
    release_regression_factor: float = 1.5
    #: a session bounced when it left within this much visible time without an operation
    bounce_threshold_s: float = 10.0
    #: what a GB of WASM served from the network costs (CDN egress), in your currency
    cdn_price_per_gb: float = 0.085
    #: what a million operations would cost if the server ran them instead of the client
    server_cost_per_million_ops: float = 0.40


def _fields() -> dict[str, Any]:
    return {f.name: f.type for f in msgspec.structs.fields(Settings)}


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, typ in _fields().items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None or raw == "":
            continue
        text = str(typ)
        if text.startswith("dict"):
            try:
                out[name] = msgspec.json.decode(raw)
            except msgspec.DecodeError as exc:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()}: not valid JSON: {exc}") from exc
        elif text.startswith("list"):
            out[name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif text == "bool":
            out[name] = raw.strip().lower() in ("1", "true", "yes", "on")
        else:
            out[name] = raw
    return out


def _from_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc
    section = data.get("wasmwatch", data)
    if not isinstance(section, dict):
        raise ConfigError(f"config file {path}: [wasmwatch] must be a table")
    return section


def load(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Resolve settings from defaults, TOML file, environment and flags, in that order."""
    environ = os.environ if environ is None else environ
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = _from_env(environ)
    merged: dict[str, Any] = {}
    config_path = flags.get("config") or env.get("config")
    if config_path:
        merged.update(_from_toml(str(config_path)))
        merged["config"] = str(config_path)
    merged.update(env)
    merged.update(flags)
    try:
        return msgspec.convert(merged, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid setting: {exc}") from exc


def data_path(settings: Settings) -> Path:
    return Path(settings.data_dir).expanduser().resolve()

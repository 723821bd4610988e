"""Settings: declared once, with defaults, and read from the outside world in one place.

Precedence, lowest first: the defaults below, a TOML file (``--config F`` or
``WASMWATCH_CONFIG``), ``WASMWATCH_*`` environment variables, command-line flags. Every field
has a variable named after it in upper case: ``retention_days`` is ``WASMWATCH_RETENTION_DAYS``.
Mappings in the environment are JSON (``WASMWATCH_LOG_LEVELS='{"wasmwatch.ingest": "DEBUG"}'``),
lists are comma separated.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from wasmwatch.errors import ConfigError

ENV_PREFIX = "WASMWATCH_"


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8787
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
    #: memory (MiB) the requests waiting to be committed may hold (their decoded items, see
    #: store/writer.py ``held_bytes``) before ingest answers 503. This and ``store_memory_mb``
    #: keep the process under 400 MB RSS at twice its capacity (bench/RESULTS.md, queue9:
    #: peaks of 347-348 MB, as 16 did before the bodies were let go once decoded); commit
    #: groups are half the queue at most, so a larger one gathers larger commits
    queue_max_mb: int = 32
    #: seconds a bulk body waits for room in a full queue before its 503 (0: refused at once);
    #: the bodies waiting are bounded by half of ``queue_max_mb``
    queue_wait_s: float = 1.0
    #: DuckDB's memory limit in MiB (its buffer pool; the process needs more besides). The
    #: point-5 queries over 10 M items answer at 96 as fast as at 160 (bench/RESULTS.md)
    store_memory_mb: int = 96
    #: fixed memory (MiB) of the filter that finds replayed item ids (see store/seen.py)
    seen_filter_mb: int = 32
    #: how often freed heap memory is returned to the OS while no item waits (0: never)
    memory_trim_interval_s: float = 5.0
    #: seconds of idle (the process under 2.5 % of a core, nothing waiting to be committed)
    #: after which the pages of its shared libraries go back to the kernel, once per idle spell,
    #: and once when the start is done (``madvise(MADV_PAGEOUT)``, Linux 5.4 on; see
    #: wasmwatch/memory.py); 0: never. The next request reads back the pages it needs
    #: (bench/RESULTS.md, memory5: the price)
    memory_pageout_idle_s: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    #: glibc malloc arenas at most (0: glibc's default, 8 per core); see wasmwatch/memory.py
    malloc_arena_max: Annotated[int, msgspec.Meta(ge=0)] = 1
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
    # -- slow and hostile clients ------------------------------------------------------------
    #: a connection that has not sent a whole request head in this time is closed (granian)
    header_timeout_s: float = 10.0
    #: a request body not received in full in this time answers 408 and the connection closes
    body_timeout_s: float = 20.0
    #: connections served at once; more wait in the listen backlog until one closes
    max_connections: int = 4096
    # -- readiness --------------------------------------------------------------------------
    #: /readyz says not ready when the data dir's disk has less free space than this
    ready_min_free_bytes: int = 64 << 20
    #: extra regexes scrubbed from every client string (as ``[redacted]``), besides the built-in
    #: kinds; in the environment a JSON array (regexes hold commas) or comma separated
    scrub_patterns: list[str] = []
    # -- projects, keys and limits (see README "Projects and keys") --
    #: per-ingest-key rate, items per second, with a burst of twice that; 0 turns it off
    key_rate_limit: float = 100_000.0
    #: per-client-address ingest rate, requests per second, burst twice that; 0 turns it off
    address_rate_limit: float = 1000.0
    #: client addresses tracked for rate limits and failed logins (least recent dropped)
    address_table_max: int = 65_536
    #: proxies (addresses or CIDR networks) whose X-Forwarded-For names the client address
    trusted_proxies: list[str] = []
    #: different wrong admin or metrics tokens per address within the window, then 429
    admin_max_failures: int = 10
    admin_failure_window_s: float = 60.0
    #: when set, /metrics needs "Authorization: Bearer <metrics_token>"; unset keeps it open
    metrics_token: str | None = None
    # -- alerting (see README, Alerting) --
    #: POST Alertmanager webhook v4 JSON (plus the seed's keys) here
    alert_webhook_url: str | None = None
    #: a Slack incoming-webhook URL
    alert_slack_url: str | None = None
    #: smtp://user:pass@host:port, smtps://..., or smtp://...?starttls=true
    alert_smtp_url: str | None = None
    alert_email_to: list[str] = []
    alert_email_from: str = "wasmwatch@localhost"
    #: a fingerprint announced firing is not announced again for this long
    alert_cooldown_s: float = 300.0
    alert_eval_interval_s: float = 1.0
    #: a firing alert is announced again after this long
    alert_repeat_interval_s: float = 14_400.0
    #: per delivery attempt
    alert_timeout_s: float = 5.0
    alert_attempts: int = 4
    #: first retry delay, doubled per retry
    alert_backoff_s: float = 0.5
    #: on stop, queued notifications get this long to go out
    alert_drain_s: float = 2.0
    #: the seed's "service" key in webhook payloads
    alert_service: str = "wasmwatch"
    #: ``[[rules]]`` tables (environment: a JSON list)
    rules: list[dict[str, Any]] = []
    #: projects (ids, e.g. "default") whose wasm modules the server may fetch, from the http(s)
    #: URL seen in a stack, to read their name section and DWARF; off (empty) by default
    symbols_fetch_projects: list[str] = []
    #: largest module fetched or uploaded for symbols
    symbols_max_bytes: int = 128 << 20
    # -- scale-out (see docs/clickhouse.md) --
    #: where items live: "duckdb:///path" (empty: DuckDB in the data dir),
    #: "clickhouse://user:pass@host:8123/db", "chdb:///path"
    store: str = ""
    #: what this node does: "ingest" (stateless, any number), "evaluator" (rules, alerts,
    #: dashboard; exactly one), "all" (both, one node)
    role: Literal["ingest", "evaluator", "all"] = "all"
    #: how often an ingest node reloads projects and keys from the shared store
    key_refresh_s: float = 5.0


def _fields() -> dict[str, Any]:
    return {f.name: f.type for f in msgspec.structs.fields(Settings)}


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, typ in _fields().items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None or raw == "":
            continue
        text = str(typ)
        if text.startswith(("dict", "list[dict")):
            try:
                out[name] = msgspec.json.decode(raw)
            except msgspec.DecodeError as exc:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()}: not valid JSON: {exc}") from exc
        elif text.startswith("list") and raw.lstrip().startswith("["):
            try:
                out[name] = msgspec.json.decode(raw)
            except msgspec.DecodeError as exc:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()}: not a valid JSON array: {exc}") from exc
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
    if section is not data and "rules" in data:  # [[rules]] beside a [wasmwatch] table
        section = {**section, "rules": data["rules"]}
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
    if isinstance(merged.get("alert_email_to"), str):  # "a, b" in a TOML file too
        merged["alert_email_to"] = [p.strip() for p in merged["alert_email_to"].split(",") if p.strip()]
    try:
        settings = msgspec.convert(merged, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid setting: {exc}") from exc
    _check_patterns(settings.scrub_patterns)
    return settings


def _check_patterns(patterns: list[str]) -> None:
    for pattern in patterns:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"scrub_patterns: {pattern!r} is not a valid regex: {exc}") from exc
        if compiled.search(""):
            raise ConfigError(f"scrub_patterns: {pattern!r} matches the empty string")


def data_path(settings: Settings) -> Path:
    return Path(settings.data_dir).expanduser().resolve()

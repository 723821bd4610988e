"""Alert rules: the defaults taken from the seed, and ``[[rules]]`` tables checked once, at start.

A rule is a frozen :class:`Rule`. :func:`load_rules` merges the user's tables over the
defaults (a user rule with a default's name replaces it; ``enabled = false`` turns one off)
and raises :class:`~wasmwatch.errors.ConfigError` with one line naming the rule and the field
for the first thing wrong.

Kinds and metrics:

==============  ==================================================================================
``threshold``   ``stat`` (p50 p95 p99 avg max min last count) of ``metric`` (``bundle_load``,
                ``runtime_init``, ``operation``, ``offline_sync``, ``server_request``,
                ``server_span``: their ms; ``memory``: WASM
                bytes; ``measurement:NAME``: its value; ``error``: count) over ``window``,
                compared with ``threshold`` by ``op``
``rate``        ``error_rate`` (errors over operations in the window) or ``offline_pending``
                (the last reported count of operations waiting to sync)
``regression``  ``stat`` (avg or p95) of ``metric`` over ``window`` divided by the same over the
                ``baseline`` window just before it, compared with ``threshold`` (the factor)
``instant``     fires on the arrival of one item of ``metric`` matching ``where``; stays firing
                while such items keep coming within ``window``
==============  ==================================================================================
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from wasmwatch.errors import ConfigError

__all__ = [
    "DEFAULT_RULES",
    "KINDS",
    "LABELS",
    "SEVERITIES",
    "STATS",
    "Rule",
    "format_ms",
    "load_rules",
    "parse_duration_ms",
    "parse_rule",
]

KINDS = ("threshold", "rate", "regression", "instant")
STATS = ("p50", "p95", "p99", "avg", "max", "min", "last", "count")
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
OPS = (">", "<", ">=", "<=")
SEVERITIES = ("critical", "warning", "info")
#: labels a rule can group by or filter on (``operation`` is the name of an operation, or the
#: operation an error happened in; ``route``, ``method``, ``service`` are labels of server items)
LABELS = ("release", "operation", "browser", "category", "page", "device", "connection", "os",
          "route", "method", "service")
#: metric -> item type it reads
TIMED = {"bundle_load": "bundle_load", "runtime_init": "runtime_init", "operation": "operation",
         "offline_sync": "offline_sync", "memory": "memory", "error": "error",
         "server_request": "server_request", "server_span": "server_span"}
#: item types whose ``name`` is the ``route`` label (a request's template, a span's name)
SERVER_TYPES = ("server_request", "server_span")
RATE_METRICS = ("error_rate", "offline_pending")
_FIELDS = ("name", "kind", "metric", "stat", "op", "threshold", "window", "baseline", "for",
           "keep_firing_for", "min_samples", "group_by", "where", "severity", "description",
           "enabled")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_DURATION = re.compile(r"([0-9]{1,9})(ms|s|m|h|d)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PLACEHOLDERS = frozenset(("rule", "value", "threshold", "window", "stat", "metric", "severity",
                           "samples", *LABELS))


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    metric: str
    threshold: float
    stat: str = "avg"
    op: str = ">"
    window_ms: int = 300_000
    baseline_ms: int = 3_600_000
    for_ms: int = 0
    keep_firing_for_ms: int = 0
    min_samples: int = 20
    group_by: tuple[str, ...] = ()
    where: tuple[tuple[str, str], ...] = ()
    severity: str = "info"
    description: str = "{rule}: {value} (threshold {threshold})"
    enabled: bool = True

    @property
    def item_type(self) -> str:
        """The item type the rule reads (``error_rate`` reads operations and errors)."""
        if self.metric.startswith("measurement:"):
            return "measurement"
        if self.metric == "offline_pending":
            return "offline_sync"
        if self.metric == "error_rate":
            return "error"
        return TIMED[self.metric]

    @property
    def measurement(self) -> str | None:
        return self.metric.split(":", 1)[1] if self.metric.startswith("measurement:") else None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "metric": self.metric, "stat": self.stat,
                "op": self.op, "threshold": self.threshold,
                "window": format_ms(self.window_ms), "baseline": format_ms(self.baseline_ms),
                "for": format_ms(self.for_ms), "keep_firing_for": format_ms(self.keep_firing_for_ms),
                "min_samples": self.min_samples, "group_by": list(self.group_by),
                "where": dict(self.where), "severity": self.severity,
                "description": self.description, "enabled": self.enabled}


def format_ms(ms: int) -> str:
    if ms == 0:
        return "0s"
    for unit in ("d", "h", "m", "s"):
        if ms % _UNIT_MS[unit] == 0:
            return f"{ms // _UNIT_MS[unit]}{unit}"
    return f"{ms}ms"


def parse_duration_ms(text: object) -> int:
    """Milliseconds in ``"500ms"``, ``"10s"``, ``"5m"``, ``"1h"``, ``"1d"``; ``"0s"`` is allowed."""
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected a duration such as \"10s\", \"5m\" or \"1h\", got {text!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


_D = "{rule}: {stat} {metric} is {value} over {window} (threshold {threshold})"
#: how long a default rule's breach must stay cleared before it resolves: a value that hovers
#: at the threshold stays one firing alert instead of firing and resolving every few seconds
_HOLD_MS = 60_000
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("slow_bundle_load", "threshold", "bundle_load", 5000.0, keep_firing_for_ms=_HOLD_MS,
         stat="p95", severity="warning",
         group_by=("release",), description="bundle load p95 {value} ms over {window} "
         "(release {release}) is above {threshold} ms"),
    Rule("high_operation_latency", "threshold", "operation", 1000.0, keep_firing_for_ms=_HOLD_MS,
         stat="p95",
         group_by=("operation",), description="operation {operation} p95 {value} ms over {window} "
         "is above {threshold} ms"),
    Rule("high_error_rate", "rate", "error_rate", 0.05, keep_firing_for_ms=_HOLD_MS,
         severity="critical",
         description="error rate {value} over {window} ({samples} operations) is above {threshold}"),
    Rule("memory_pressure", "threshold", "memory", 10_485_760.0, keep_firing_for_ms=_HOLD_MS,
         stat="max", min_samples=1,
         severity="warning", description="WASM memory {value} bytes is above {threshold} bytes"),
    Rule("offline_backlog", "rate", "offline_pending", 100.0, keep_firing_for_ms=_HOLD_MS,
         stat="last", min_samples=1,
         description="{value} operations are waiting to sync (threshold {threshold})"),
    Rule("performance_regression", "regression", "operation", 1.5, keep_firing_for_ms=_HOLD_MS,
         stat="avg",
         group_by=("release", "operation"), severity="warning",
         description="operation {operation} ({release}) mean is {value}x its baseline over the "
         "last {window} (threshold {threshold}x)"),
    Rule("critical_error", "instant", "error", 0.0, stat="count", min_samples=1,
         where=(("category", "critical"),), severity="critical",
         description="{samples} critical error(s) in the last {window}"),
)


class _Bad(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def _str(table: Mapping[str, Any], key: str, allowed: Sequence[str] | None = None) -> str:
    value = table[key]
    if not isinstance(value, str):
        raise _Bad(key, f"expected a string, got {value!r}")
    if allowed is not None and value not in allowed:
        raise _Bad(key, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _duration(table: Mapping[str, Any], key: str) -> int:
    try:
        return parse_duration_ms(table[key])
    except ValueError as exc:
        raise _Bad(key, str(exc)) from exc


def _labels(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(key, f"expected a list of labels, got {value!r}")
    for label in value:
        if label not in LABELS:
            raise _Bad(key, f"unknown label {label!r}; use {', '.join(LABELS)}")
    return tuple(value)


def _where(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise _Bad("where", f"expected a table of label = value, got {value!r}")
    _labels(list(value), "where")
    for label, wanted in value.items():
        if not isinstance(wanted, str):
            raise _Bad("where", f"{label}: expected a string, got {wanted!r}")
    return tuple(sorted(value.items()))


def _description(value: object) -> str:
    if not isinstance(value, str):
        raise _Bad("description", f"expected a string, got {value!r}")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise _Bad("description", str(exc)) from exc
    unknown = sorted(names - _PLACEHOLDERS)
    if unknown:
        raise _Bad("description", f"unknown placeholder {{{unknown[0]}}}; use "
                   + ", ".join("{" + p + "}" for p in sorted(_PLACEHOLDERS)))
    return value


def _metric(kind: str, value: str) -> str:
    if kind == "rate":
        if value not in RATE_METRICS:
            raise _Bad("metric", f"{value!r}: a rate rule reads {' or '.join(RATE_METRICS)}")
        return value
    if value.startswith("measurement:") and len(value) > len("measurement:"):
        return value
    if value not in TIMED:
        raise _Bad("metric", f"unknown metric {value!r}; use {', '.join(TIMED)} or measurement:NAME")
    return value


def _fields(table: Mapping[str, Any], base: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kind = out["kind"] = _str(table, "kind", KINDS) if "kind" in table else base.kind
    if "metric" in table or "kind" in table:
        out["metric"] = _metric(kind, _str(table, "metric") if "metric" in table else base.metric)
    if "stat" in table:
        out["stat"] = _str(table, "stat", ("avg", "p95") if kind == "regression" else STATS)
    if "op" in table:
        out["op"] = _str(table, "op", OPS)
    if "threshold" in table:
        value = table["threshold"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Bad("threshold", f"expected a number, got {value!r}")
        out["threshold"] = float(value)
    for key, attr in (("window", "window_ms"), ("baseline", "baseline_ms"), ("for", "for_ms"),
                      ("keep_firing_for", "keep_firing_for_ms")):
        if key in table:
            out[attr] = _duration(table, key)
    if "min_samples" in table:
        value = table["min_samples"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _Bad("min_samples", f"expected a whole number >= 1, got {value!r}")
        out["min_samples"] = value
    if "group_by" in table:
        out["group_by"] = _labels(table["group_by"], "group_by")
    if "where" in table:
        out["where"] = _where(table["where"])
    if "severity" in table:
        out["severity"] = _str(table, "severity", SEVERITIES)
    if "description" in table:
        out["description"] = _description(table["description"])
    if "enabled" in table:
        if not isinstance(table["enabled"], bool):
            raise _Bad("enabled", f"expected true or false, got {table['enabled']!r}")
        out["enabled"] = table["enabled"]
    return out


def _check(rule: Rule) -> None:
    if rule.item_type not in ("operation", "error") and rule.metric != "error_rate":
        if "operation" in rule.group_by:
            raise _Bad("group_by", "operation is a label of operations and errors only")
        if "operation" in dict(rule.where):
            raise _Bad("where", "operation is a label of operations and errors only")
    if rule.item_type not in SERVER_TYPES:
        for label in ("route", "method", "service"):
            if label in rule.group_by or label in dict(rule.where):
                raise _Bad("group_by" if label in rule.group_by else "where",
                           f"{label} is a label of server_request and server_span only")
    if rule.window_ms < 1000 or rule.window_ms > 86_400_000:
        raise _Bad("window", "must be between 1s and 1d")
    if rule.kind == "regression" and rule.baseline_ms < rule.window_ms:
        raise _Bad("baseline", "must be at least as long as the window")
    if rule.kind == "regression" and rule.threshold <= 0:
        raise _Bad("threshold", "a regression factor must be greater than 0")


def parse_rule(table: Mapping[str, Any], defaults: Mapping[str, Rule]) -> Rule:
    """One ``[[rules]]`` table as a :class:`Rule`; a default's name starts from that default."""
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"rule {name!r}: field 'name': expected a name of letters, digits, _ . -")
    try:
        unknown = sorted(set(table) - set(_FIELDS))
        if unknown:
            raise _Bad(unknown[0], f"unknown field; rules take {', '.join(_FIELDS)}")
        base = defaults.get(name)
        if base is None:
            for key in ("kind", "metric", "threshold"):
                if key not in table:
                    raise _Bad(key, "required for a rule that is not a default")
            base = Rule(name, "threshold", "operation", 0.0)
        rule = replace(base, **_fields(table, base))
        if rule.kind == "instant" and "min_samples" not in table:
            rule = replace(rule, min_samples=1)
        _check(rule)
    except _Bad as exc:
        raise ConfigError(f"rule {name!r}: field {exc.field!r}: {exc.message}") from None
    return rule


def load_rules(tables: Sequence[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """The defaults with the user's tables merged in, enabled rules only, in a stable order."""
    defaults = {rule.name: rule for rule in DEFAULT_RULES}
    merged: dict[str, Rule] = dict(defaults)
    for index, table in enumerate(tables):
        if not isinstance(table, Mapping):
            raise ConfigError(f"rules[{index}]: expected a table, got {table!r}")
        rule = parse_rule(table, defaults)
        merged[rule.name] = rule
    return tuple(rule for rule in merged.values() if rule.enabled)

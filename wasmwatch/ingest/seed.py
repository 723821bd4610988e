"""The seed's metric shape, mapped onto wasmwatch items.

The seed posts ``{"type", "data": {"timestamp", "duration", ...}, "user_agent",
"bundle_version"}``; it requires ``timestamp`` and ``duration`` and clamps the duration to
0..60000 ms (a non-number becomes 0). The seed sends no ids, so each metric's id is a hash of
its content: a replayed metric is stored once.

The common path (:func:`chunks` when every metric maps) converts the decoded metrics to typed
values in one call (:class:`_Metric`), makes each item straight from them (no per-metric dict,
no per-metric validation call: the ranges an item type states are checked on whole columns)
and hashes the ids from one sorted encoding per metric. When anything does not fit (a missing
field, an ISO time, a value out of range), the metrics are mapped one by one by
:func:`to_item`, which names each rejection.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

import msgspec
import numpy as np

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.columnar import Chunk
from wasmwatch.ingest.pipeline import Batch, Pipeline
from wasmwatch.ingest.validate import ItemError, path_error

Data = dict[str, Any]


class SeedData(msgspec.Struct, frozen=True):
    """What :func:`to_item` requires of ``data`` (other fields are read per type, or ignored)."""

    timestamp: Annotated[float | str, msgspec.Meta(
        description="epoch milliseconds, or an ISO 8601 time; within the retention period")]
    duration: Annotated[Any, msgspec.Meta(
        description="milliseconds, clamped to 0..60000; a non-number counts as 0")]


class SeedMetric(msgspec.Struct, frozen=True):
    """The seed's metric, as the OpenAPI document describes it."""

    type: Annotated[str, msgspec.Meta(min_length=1)]
    data: SeedData
    user_agent: str | None = None
    bundle_version: str | None = None


class SeedBulk(msgspec.Struct, frozen=True):
    metrics: Annotated[list[SeedMetric], msgspec.Meta(max_length=1000)]


class SeedResult(msgspec.Struct, frozen=True):
    success: int
    errors: int


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def _opt(value: Any) -> float | None:
    return None if value is None else _num(value)


def _timestamp(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000
        except ValueError as exc:
            raise ItemError(f"data.timestamp: {value[:40]!r} is not an ISO 8601 time") from exc
    raise ItemError("data.timestamp: expected epoch milliseconds or an ISO 8601 string")


def _text(data: Data, *keys: str, default: str | None = None) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return default


def _bundle(d: Data, kind: str) -> dict[str, Any]:
    return {"total_ms": _num(d["duration"]), "url": _text(d, "url"),
            "cached": d.get("cached") if isinstance(d.get("cached"), bool) else None}


def _operation(d: Data, kind: str) -> dict[str, Any]:
    return {"name": _text(d, "operation_type", "type", "name", "operation", default="unknown"),
            "ms": _num(d["duration"]), "offline": d.get("offline") is True,
            "ok": d.get("ok") is not False, "expected_ms": _opt(d.get("expected"))}


def _error(d: Data, kind: str) -> dict[str, Any]:
    category = "critical" if kind == "critical_error" else d.get("category")
    if category not in s.ERROR_CATEGORIES:
        category = "application"
    return {"kind": _text(d, "kind", "name", default="Error"), "category": category,
            "message": _text(d, "message", default=""), "stack": _text(d, "stack"),
            "operation": _text(d, "operation"), "memory_bytes": _opt(d.get("memory_at_error"))}


_MAPPERS: dict[str, tuple[str, Callable[[Data, str], dict[str, Any]]]] = {
    "bundle_load": ("bundle_load", _bundle),
    "runtime_init": ("runtime_init", lambda d, k: {"ms": _num(d["duration"])}),
    "operation": ("operation", _operation),
    "slow_operation": ("operation", _operation),
    "error": ("error", _error),
    "critical_error": ("error", _error),
    "feature": ("feature", lambda d, k: {"name": _text(d, "feature", "name", default="unknown")}),
    "feature_used": ("feature", lambda d, k: {"name": _text(d, "feature", "name", default="unknown")}),
    "memory": ("memory", lambda d, k: {"wasm_bytes": _num(d.get("heap_usage", d.get("bytes")))}),
    "offline_sync": ("offline_sync", lambda d, k: {
        "synced": _num(d.get("synced", d.get("operations"))), "ms": _num(d["duration"]),
        "ok": d.get("ok", d.get("success")) is not False, "pending": _opt(d.get("pending"))}),
    "engagement": ("engagement", lambda d, k: {"visible_ms": _num(d["duration"]),
                                               "online": d.get("online") is not False}),
}


def to_item(metric: Any) -> tuple[dict[str, Any], s.Context]:
    """One seed metric as a wasmwatch item (a dict to validate) and its context."""
    if not isinstance(metric, dict):
        raise ItemError("expected an object with \"type\" and \"data\"")
    kind, data = metric.get("type"), metric.get("data")
    if not isinstance(kind, str) or not kind:
        raise ItemError("type: missing or not a string")
    if not isinstance(data, dict):
        raise ItemError("data: missing or not an object")
    missing = [f for f in ("timestamp", "duration") if f not in data]
    if missing:
        raise ItemError(f"data: missing required fields {', '.join(missing)}")
    target, mapper = _MAPPERS.get(kind, ("measurement", lambda d, k: {
        "name": k[:256], "value": _num(d["duration"]), "unit": "ms"}))
    item = {"type": target, "ts": _timestamp(data["timestamp"]), **mapper(data, kind)}
    digest = hashlib.blake2b(msgspec.json.encode(metric, order="sorted"), digest_size=12)
    item["id"] = "seed-" + digest.hexdigest()
    release = metric.get("bundle_version")
    agent = metric.get("user_agent")
    ctx = s.Context(release=release if isinstance(release, str) else None,
                    user_agent=agent if isinstance(agent, str) else None, sdk="seed")
    return item, ctx


def chunks(metrics: Sequence[Any], pipeline: Pipeline, project: str, user_agent: str | None,
           now_ms: int, nbytes: int) -> tuple[list[Chunk], list[str]]:
    """One chunk per distinct context of the metrics that map, and one error per metric that
    does not."""
    fast = _fast_chunks(metrics, pipeline, project, user_agent, now_ms, nbytes)
    if fast is not None:
        return fast, []
    return _slow_chunks(metrics, pipeline, project, user_agent, now_ms, nbytes)


def _slow_chunks(metrics: Sequence[Any], pipeline: Pipeline, project: str, user_agent: str | None,
           now_ms: int, nbytes: int) -> tuple[list[Chunk], list[str]]:
    """:func:`chunks` by :func:`to_item`, one metric at a time: names each bad metric."""
    groups: dict[s.Context, tuple[list[int], list[dict[str, Any]]]] = {}
    errors: list[str] = []
    for index, metric in enumerate(metrics):
        try:
            item, ctx = to_item(metric)
        except ItemError as exc:
            errors.append(f"metrics[{index}].{exc}")
            continue
        indexes, items = groups.setdefault(ctx, ([], []))
        indexes.append(index)
        items.append(item)
    out: list[Chunk] = []
    share = nbytes // max(1, len(groups))
    for ctx, (indexes, items) in groups.items():
        batch = pipeline.batch(ctx, project=project, user_agent=user_agent, sent_at=None,
                               now_ms=now_ms)
        rejected: list[s.Rejection] = []
        try:
            typed = msgspec.convert(items, list[s.Item])
            chunk, rejected = pipeline.check(typed, batch, share, typed=True)
        except msgspec.ValidationError:
            rejected = [s.Rejection(-1, "")]
        if rejected:  # name each bad metric by its own index
            chunk, rejected = _one_by_one(pipeline, items, indexes, batch, share)
        errors.extend(r.error for r in rejected)
        out.append(chunk)
    return out, errors


def _one_by_one(pipeline: Pipeline, items: list[dict[str, Any]], indexes: list[int],
                batch: Batch, nbytes: int) -> tuple[Chunk, list[s.Rejection]]:
    good: list[s.Item] = []
    rejected: list[s.Rejection] = []
    for index, raw in zip(indexes, items, strict=True):
        try:
            typed: s.Item = msgspec.convert(raw, s.Item)
            good.append(pipeline.item(typed, index, batch, prefix="metrics"))
        except msgspec.ValidationError as exc:
            rejected.append(s.Rejection(index, path_error(f"metrics[{index}]", exc)))
        except ItemError as exc:
            rejected.append(s.Rejection(index, str(exc)))
    return pipeline.chunk(batch, good, nbytes), rejected


# -- the common path: every metric maps -------------------------------------------------------

_MISSING: Any = msgspec.UNSET


class _Data(msgspec.Struct, frozen=True, gc=False):
    """Every ``data`` field a mapper reads (unset: absent; any JSON value is taken as is)."""

    timestamp: Any
    duration: Any
    url: Any = None
    cached: Any = None
    operation_type: Any = None
    type: Any = None
    name: Any = None
    operation: Any = None
    offline: Any = None
    ok: Any = _MISSING
    success: Any = None
    expected: Any = None
    category: Any = None
    kind: Any = None
    message: Any = None
    stack: Any = None
    memory_at_error: Any = None
    feature: Any = None
    heap_usage: Any = _MISSING
    bytes: Any = None
    synced: Any = _MISSING
    operations: Any = None
    pending: Any = None
    online: Any = None


class _Metric(msgspec.Struct, frozen=True, gc=False):
    type: Annotated[str, msgspec.Meta(min_length=1)]
    data: _Data
    user_agent: Any = None
    bundle_version: Any = None


_metrics = list[_Metric]
_sorted = msgspec.json.Encoder(order="sorted")


def _str(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _f(value: Any) -> float:
    t = type(value)
    return float(value) if t is float or t is int else 0.0


def _fo(value: Any) -> float | None:
    return None if value is None else _f(value)


def _ts(value: Any) -> float:
    t = type(value)
    if t is float or t is int:
        return float(value)
    raise ItemError("data.timestamp")  # an ISO time or a bad value: the slow path says which


def _make_operation(i: str, d: _Data, kind: str) -> s.Item:
    name = (_str(d.operation_type) or _str(d.type) or _str(d.name) or _str(d.operation)
            or "unknown")
    return s.Operation(i, _ts(d.timestamp), name, _f(d.duration), d.ok is not False,
                       d.offline is True, _fo(d.expected))


def _make_error(i: str, d: _Data, kind: str) -> s.Item:
    category: s.ErrorCategory = "critical" if kind == "critical_error" else d.category
    if category not in s.ERROR_CATEGORIES:
        category = "application"
    return s.Error(i, _ts(d.timestamp), _str(d.kind) or _str(d.name) or "Error", category,
                   _str(d.message) or "", _str(d.stack), _str(d.operation),
                   _fo(d.memory_at_error))


def _make_feature(i: str, d: _Data, kind: str) -> s.Item:
    return s.Feature(i, _ts(d.timestamp), _str(d.feature) or _str(d.name) or "unknown")


def _make_offline(i: str, d: _Data, kind: str) -> s.Item:
    synced = d.operations if d.synced is _MISSING else d.synced
    ok = d.success if d.ok is _MISSING else d.ok
    return s.OfflineSync(i, _ts(d.timestamp), _f(synced), _f(d.duration), None, ok is not False,
                         _fo(d.pending))


def _make_memory(i: str, d: _Data, kind: str) -> s.Item:
    heap = d.bytes if d.heap_usage is _MISSING else d.heap_usage
    return s.Memory(i, _ts(d.timestamp), _f(heap))


_MAKERS: dict[str, Callable[[str, _Data, str], s.Item]] = {
    "bundle_load": lambda i, d, k: s.BundleLoad(
        i, _ts(d.timestamp), _f(d.duration), _str(d.url),
        cached=d.cached if type(d.cached) is bool else None),
    "runtime_init": lambda i, d, k: s.RuntimeInit(i, _ts(d.timestamp), _f(d.duration)),
    "operation": _make_operation, "slow_operation": _make_operation,
    "error": _make_error, "critical_error": _make_error,
    "feature": _make_feature, "feature_used": _make_feature,
    "memory": _make_memory, "offline_sync": _make_offline,
    "engagement": lambda i, d, k: s.Engagement(i, _ts(d.timestamp), _f(d.duration),
                                               d.online is not False),
}


def _measurement(i: str, d: _Data, kind: str) -> s.Item:
    return s.Measurement(i, _ts(d.timestamp), kind[:256], _f(d.duration), "ms")


#: per item type, the fields with a stated range (``schema.Count``, ``NonNegative``)
_RANGED: dict[type[Any], tuple[str, ...]] = {
    s.Error: ("memory_bytes",), s.Memory: ("wasm_bytes",), s.Engagement: ("visible_ms",),
    s.OfflineSync: ("synced", "pending"),
}


def _in_range(items: list[s.Item]) -> bool:
    """Every ranged field of every item within ``0..schema.MAX_COUNT``, checked per column."""
    for kind, fields in _RANGED.items():
        group = [it for it in items if type(it) is kind]
        for field in fields if group else ():
            values = np.array([getattr(it, field) for it in group], dtype=np.float64)
            values = values[~np.isnan(values)]  # None: not given
            if len(values) and not (values.min() >= 0 and values.max() <= s.MAX_COUNT):
                return False
    return True


def _fast_chunks(metrics: Sequence[Any], pipeline: Pipeline, project: str,
                 user_agent: str | None, now_ms: int, nbytes: int) -> list[Chunk] | None:
    """:func:`chunks` when every metric maps and is valid; None to take the slow path."""
    try:
        typed = msgspec.convert(metrics, _metrics)
    except (msgspec.ValidationError, RecursionError):
        return None
    ids = ["seed-" + hashlib.blake2b(b, digest_size=12).hexdigest()
           for b in map(_sorted.encode, metrics)]
    groups: dict[tuple[Any, Any], list[s.Item]] = {}
    get = _MAKERS.get
    try:
        for metric, id_ in zip(typed, ids, strict=True):
            kind = metric.type
            item = get(kind, _measurement)(id_, metric.data, kind)
            release, agent = metric.bundle_version, metric.user_agent
            groups.setdefault((release if type(release) is str else None,
                               agent if type(agent) is str else None), []).append(item)
    except ItemError:
        return None
    out: list[Chunk] = []
    share = nbytes // max(1, len(groups))
    for (release, agent), items in groups.items():
        if not _in_range(items):
            return None
        ctx = s.Context(release=release, user_agent=agent, sdk="seed")
        batch = pipeline.batch(ctx, project=project, user_agent=user_agent, sent_at=None,
                               now_ms=now_ms)
        lo, hi = pipeline.ts_bounds(items)
        if lo + batch.skew_ms < batch.min_ts or hi + batch.skew_ms > batch.max_ts:
            return None
        out.append(pipeline.chunk(batch, items, share))
    return out

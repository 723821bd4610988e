"""The seed's metric shape, mapped onto wasmwatch items.

The seed posts ``{"type", "data": {"timestamp", "duration", ...}, "user_agent",
"bundle_version"}``; it requires ``timestamp`` and ``duration`` and clamps the duration to
0..60000 ms (a non-number becomes 0). The seed sends no ids, so each metric's id is a hash of
its content: a replayed metric is stored once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

import msgspec

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
    does not. The mapped items are checked together in one typed call per context."""
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

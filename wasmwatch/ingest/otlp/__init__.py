"""OTLP/HTTP requests (traces, metrics, logs) as wasmwatch items, through the ingest pipeline.

:mod:`.wire` (OTLP JSON) and :mod:`.proto` (protobuf) decode a body into typed values;
:mod:`.spans`, :mod:`.metrics` and :mod:`.logs` map them onto item types (each module's
docstring says how); :func:`chunks` validates the items like every other item (one typed
check, timestamps within retention, the pipeline's scrubbing and enrichment) and groups them
by resource into chunks to commit. An item that fails is counted as rejected and named in
:attr:`Export.first_error`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import msgspec

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.columnar import Chunk
from wasmwatch.ingest.otlp import common, logs, metrics, spans, wire
from wasmwatch.ingest.pipeline import Pipeline
from wasmwatch.ingest.validate import ItemError, path_error

__all__ = ["Export", "chunks", "decode", "items", "wire"]

_item_decoder = msgspec.json.Decoder(s.Item)
_encoder = msgspec.json.Encoder()
_MAPPERS: dict[wire.Signal, Callable[[Any], Iterator[common.Mapped]]] = {
    "traces": spans.items, "metrics": metrics.items, "logs": logs.items}


class Export(NamedTuple):
    """One request's items, ready to commit, and what could not be taken."""

    chunks: list[Chunk]
    accepted: int
    rejected: int
    first_error: str | None
    #: log records below ERROR, left out on purpose (not rejected)
    left_out: int = 0


def decode(signal: wire.Signal, body: bytes, protobuf: bool) -> wire.Request:
    """The body (protobuf, else OTLP JSON) as the typed request of ``signal``; raises
    :class:`~.wire.WireError` naming the problem."""
    if not protobuf:
        return wire.decode_json(signal, body)
    from wasmwatch.ingest.otlp import proto  # imported on the first protobuf body (~1 MB)

    return proto.decode(signal, body)


def items(signal: wire.Signal, request: wire.Request) -> list[common.Mapped]:
    return list(_MAPPERS[signal](request))


def chunks(signal: wire.Signal, request: wire.Request, mapped: Iterable[common.Mapped],
           pipeline: Pipeline, project: str, now_ms: int, nbytes: int) -> Export:
    """Validate the mapped items and group them into one chunk per resource context."""
    raw: dict[s.Context, list[tuple[str, dict[str, Any]]]] = {}
    errors: list[str] = []
    total = 0
    for origin, where, item in mapped:
        total += 1
        if isinstance(item, str):
            errors.append(f"{where}: {item}")
        else:
            raw.setdefault(origin.context, []).append((where, item))
    groups = {ctx: _typed(group, errors) for ctx, group in raw.items()}
    out: list[Chunk] = []
    share = nbytes // max(1, len(groups))
    for ctx, group in groups.items():
        chunk, rejected = _check(pipeline, ctx, group, project, now_ms, share)
        errors.extend(rejected)
        out.append(chunk)
    left_out = logs.count(request) - total if isinstance(request, wire.LogsRequest) else 0
    return Export(out, total - len(errors), len(errors), errors[0] if errors else None, left_out)


def _typed(group: list[tuple[str, dict[str, Any]]], errors: list[str]) -> list[tuple[str, s.Item]]:
    """The items as typed values: in one call, else one by one to name each bad one."""
    try:
        typed = msgspec.convert([item for _, item in group], list[s.Item])
        return [(where, it) for (where, _), it in zip(group, typed, strict=True)]
    except msgspec.ValidationError:
        pass
    good: list[tuple[str, s.Item]] = []
    for where, item in group:
        try:
            good.append((where, _item_decoder.decode(_encoder.encode(item))))
        except msgspec.ValidationError as exc:
            errors.append(path_error(where, exc))
    return good


def _check(pipeline: Pipeline, ctx: s.Context, group: list[tuple[str, s.Item]], project: str,
           now_ms: int, nbytes: int) -> tuple[Chunk, list[str]]:
    """The pipeline's checks (timestamps within retention) and preparation (scrubbing)."""
    batch = pipeline.batch(ctx, project=project, user_agent=None, sent_at=None, now_ms=now_ms)
    good: list[s.Item] = []
    wheres: list[str] = []
    rejected: list[str] = []
    for index, (where, item) in enumerate(group):
        try:
            good.append(pipeline.item(item, index, batch))
            wheres.append(where)
        except ItemError as exc:  # "items[i].ts: ...": named by where it is in the body
            rejected.append(where + str(exc).split("]", 1)[1])
    chunk, late = pipeline.check(good, batch, nbytes, typed=True)
    rejected.extend(wheres[r.index] + r.error.split("]", 1)[1] for r in late)
    return chunk, rejected

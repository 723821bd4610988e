"""From decoded batches to stored columns, a whole group commit at a time.

A request's items are decoded and checked in one typed call (:mod:`wasmwatch.ingest.schema`);
what is left per item happens here, on columns: each type's items become one Arrow table (one
C-level pass per field), and one SQL statement over all of them clamps durations to 0..60000 ms,
truncates strings, drops query strings from URLs and pages, truncates counts and applies the clock
skew, right in the ``INSERT`` into that type's narrow table (:meth:`Prepared.insert`): nothing
wide is materialized on the way.

Per-item Python remains only where a value needs a Python library: the top wasm frame and the
fingerprint of *error* items (regexes and blake2b, :func:`prepare`), and the JSON of measurement
tags. Strings pass :data:`scrub_columns`, the columnar scrubbing hook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from operator import attrgetter
from typing import Any, NamedTuple

import msgspec
import numpy as np
import pyarrow as pa

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.fingerprint import fingerprint, top_wasm_frame
from wasmwatch.ingest.scrub import Scrubber
from wasmwatch.store.layout import CONTEXT_COLUMNS, TYPE_COLUMNS, table_of
from wasmwatch.store.schema import COLUMNS

__all__ = ["LIMITS", "MAX_MS", "Chunk", "Prepared", "prepare", "scrub_columns"]

MAX_MS = 60_000.0
#: a server span's statement is cut to this many characters (the client scrubs literals out)
STATEMENT_LIMIT = 2048
DAY_MS = 86_400_000
LIMITS = {"name": 256, "kind": 256, "url": 1024, "page": 256, "unit": 64, "message": 2048,
          "stack": 16384, "context": 128, "tag_key": 64, "tag_value": 256}
Connection = Any
_STRINGS = {"id", "url", "name", "kind", "category", "message", "stack", "operation", "frame",
            "fingerprint", "page", "unit", "tags_json", "route", "method", "trace_id", "span_id",
            "parent_span_id", "service", "statement", "session"}
_BOOLS = {"cached", "streaming", "ok", "offline", "online"}
_CONTEXT = tuple(CONTEXT_COLUMNS)
_tags_encoder = msgspec.json.Encoder()


class Chunk(NamedTuple):
    """One request's checked items and their batch context (values in ``CONTEXT_COLUMNS``
    order, ``project`` first)."""

    context: tuple[Any, ...]
    items: Sequence[s.Item]
    nbytes: int

    @property
    def project(self) -> str:
        return str(self.context[0])


# -- per request: what only Python can compute ----------------------------------------------

def _clip(text: str | None, limit: int) -> str | None:
    return text if text is None or len(text) <= limit else text[:limit]


_SCRUBBED: dict[type[Any], tuple[str, ...]] = {
    s.BundleLoad: ("url",), s.Operation: ("name",), s.Error: ("kind", "message", "stack", "operation"),
    s.Engagement: ("page",), s.Feature: ("name",), s.Measurement: ("name", "unit"),
    s.ServerRequest: ("route", "service", "session"), s.ServerSpan: ("name", "service", "statement"),
    s.ServerProcess: ("service",),
}


def _fix_error(it: s.Error) -> None:
    it.stack = _clip(it.stack, LIMITS["stack"])
    it.kind = _clip(it.kind, LIMITS["kind"]) or "Error"
    it.message = _clip(it.message, LIMITS["message"]) or ""
    it.frame = top_wasm_frame(it.stack)
    it.fingerprint = fingerprint(it.kind, it.message, it.frame)


def _fix_tags(it: s.Measurement | s.ServerSpan, scrubber: Scrubber | None) -> None:
    if not it.tags:
        it.tags_json = None
        return
    clean = {key[: LIMITS["tag_key"]]: _clip(val, LIMITS["tag_value"]) if isinstance(val, str) else val
             for key, val in it.tags.items()}
    it.tags_json = _tags_encoder.encode(clean).decode()
    if scrubber is not None:
        it.tags_json = scrubber._tags(it.tags_json) or it.tags_json


def _scrub(it: s.Item, scrubber: Scrubber) -> None:
    scrub = scrubber.scrub
    for field in _SCRUBBED.get(type(it), ()):
        value = getattr(it, field)
        if value is not None:
            setattr(it, field, scrub(value))
    it.id = scrubber.scrub_id(it.id)


def prepare(items: Sequence[s.Item], scrubber: Scrubber | None = None) -> None:
    """Scrub the client strings and ids of the items (when given a scrubber) and fill the
    derived fields of error and measurement items, in place."""
    if scrubber is not None:
        for it in items:
            _scrub(it, scrubber)
    kinds = set(map(type, items))
    if s.Error in kinds:
        for it in items:
            if type(it) is s.Error:
                _fix_error(it)
    if s.Measurement in kinds or s.ServerSpan in kinds:
        for it in items:
            if type(it) is s.Measurement or type(it) is s.ServerSpan:
                _fix_tags(it, scrubber)


# -- scrubbing hook ---------------------------------------------------------------------------

def _default_scrub(type_: str, table: pa.Table) -> pa.Table:
    """Hook for columnar scrubbing of a type's wire table. The PII scrubber now runs per item
    in :func:`prepare` (before fingerprints are made), so this hook passes tables through."""
    return table


#: (type, the type's wire table) -> the table with its client strings scrubbed
scrub_columns: Callable[[str, pa.Table], pa.Table] = _default_scrub


# -- per commit: columns and the one derivation statement -----------------------------------

def _arrow_type(field: str) -> pa.DataType:
    if field in _STRINGS:
        return pa.string()
    return pa.bool_() if field in _BOOLS else pa.float64()


_FIELDS: dict[type[Any], tuple[str, ...]] = {
    t: tuple(f for f in t.__struct_fields__ if f != "tags") for t in s.Item.__args__
}
_TAG: dict[type[Any], str] = {t: t.__struct_config__.tag for t in _FIELDS}


def _clamp(x: str) -> str:
    return f"CASE WHEN {x} < 0 THEN 0.0 WHEN {x} > {MAX_MS} THEN {MAX_MS} ELSE {x} END"


def _cut(x: str, limit: int) -> str:
    return f"substr({x}, 1, {limit})"


def _path(x: str, limit: int) -> str:
    return _cut(f"split_part(split_part({x}, '?', 1), '#', 1)", limit)


def _count(x: str) -> str:
    return f"CAST(trunc({x}) AS BIGINT)"


_NAME = _cut("w.name", LIMITS["name"])
_TRACE = {"trace_id": "lower(w.trace_id)", "span_id": "lower(w.span_id)",
          "parent_span_id": "lower(w.parent_span_id)"}
# Row column -> expression over the wire table ``w``, per type (other columns are NULL)
_DERIVE: dict[str, dict[str, str]] = {
    "bundle_load": {"name": _path("w.url", LIMITS["url"]), "ms": _clamp("w.total_ms"),
                    "cached": "w.cached", "streaming": "w.streaming",
                    "fetch_ms": _clamp("w.fetch_ms"), "compile_ms": _clamp("w.compile_ms"),
                    "instantiate_ms": _clamp("w.instantiate_ms"),
                    "transfer_bytes": _count("w.transfer_bytes"),
                    "decoded_bytes": _count("w.decoded_bytes")},
    "runtime_init": {"ms": _clamp("w.ms")},
    "operation": {"name": _NAME, "ms": _clamp("w.ms"), "ok": "w.ok", "offline": "w.offline",
                  "expected_ms": _clamp("w.expected_ms"), "trace_id": "lower(w.trace_id)"},
    "error": {"kind": "w.kind", "category": "w.category", "message": "w.message",
              "stack": "w.stack", "frame": "w.frame", "fingerprint": "w.fingerprint",
              "name": _cut("w.operation", LIMITS["name"]), "value": "trunc(w.memory_bytes)"},
    "memory": {"value": "trunc(w.wasm_bytes)", "js_heap_bytes": _count("w.js_heap_bytes"),
               "grow_count": _count("w.grow_count"), "gc_count": _count("w.gc_count"),
               "gc_ms": _clamp("w.gc_ms")},
    "engagement": {"ms": f"least(w.visible_ms, {float(DAY_MS)})", "offline": "NOT w.online",
                   "name": _path("w.page", LIMITS["page"])},
    "feature": {"name": _NAME},
    "offline_sync": {"synced": _count("w.synced"), "ms": _clamp("w.ms"),
                     "conflicts": _count("w.conflicts"), "ok": "w.ok",
                     "pending": _count("w.pending")},
    "measurement": {"name": _NAME, "value": "w.value", "unit": _cut("w.unit", LIMITS["unit"]),
                    "tags": "w.tags_json"},
    "server_request": {"name": _path("w.route", LIMITS["name"]),
                       "method": _cut("upper(w.method)", 16), "status": _count("w.status"),
                       "ms": _clamp("w.ms"), "ok": "coalesce(w.ok, w.status < 500)",
                       **_TRACE, "service": _cut("w.service", LIMITS["context"]),
                       "session": _cut("w.session", LIMITS["context"])},
    "server_span": {"name": _NAME, "kind": "w.kind", "ms": _clamp("w.ms"), "ok": "w.ok",
                    **_TRACE, "service": _cut("w.service", LIMITS["context"]),
                    "statement": _cut("w.statement", STATEMENT_LIMIT), "tags": "w.tags_json"},
    "server_process": {"service": _cut("w.service", LIMITS["context"]),
                       "rss_bytes": _count("w.rss_bytes"), "cpu_s": "w.cpu_s",
                       "threads": _count("w.threads"), "gc_count": _count("w.gc_count"),
                       "gc_ms": "w.gc_ms"},
}


def _select(type_: str, base: int) -> str:
    """The stored columns of one type's table (``batch``, ``id``, ``ts``, its own), derived."""
    own = _DERIVE[type_]
    cols = [f"w.batch + {base} AS batch", "w.id", "CAST(trunc(w.ts) AS BIGINT) + w.skew AS ts"]
    cols += [f"CAST({own[c]} AS {COLUMNS[c]}) AS {c}" for c in TYPE_COLUMNS[type_]]
    return f"SELECT {', '.join(cols)} FROM _ww_wt w WHERE w.type = '{type_}'"


class Prepared:
    """A group of chunks as Arrow tables: one per item type present, plus the contexts."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = chunks
        counts = np.fromiter((len(c.items) for c in chunks), np.int64, len(chunks))
        self.size = int(counts.sum())
        self.offsets = np.concatenate(([0], np.cumsum(counts)[:-1])) if len(chunks) else counts
        items = self.items = list(chain.from_iterable(c.items for c in chunks))
        batch = self.batch = np.repeat(np.arange(len(chunks), dtype=np.int64), counts)
        kinds = set(map(type, items))
        self.tables: dict[str, pa.Table] = {}
        for kind in kinds:
            if len(kinds) == 1:
                group, pos = items, np.arange(len(items), dtype=np.int64)
            else:
                mask = np.fromiter((type(it) is kind for it in items), np.bool_, len(items))
                pos = np.flatnonzero(mask)
                group = [items[i] for i in pos]
            cols = {"pos": pa.array(pos), "batch": pa.array(batch[pos])}
            for f in _FIELDS[kind]:
                cols[f] = pa.array(list(map(attrgetter(f), group)), _arrow_type(f))
            self.tables[_TAG[kind]] = scrub_columns(_TAG[kind], pa.table(cols))
        ctx = list(zip(*(c.context for c in chunks), strict=True)) if chunks else []
        self.context = pa.table(
            {"batch": pa.array(np.arange(len(chunks), dtype=np.int64)),
             **{name: pa.array(list(values) if chunks else [], _ctx_type(name))
                for name, values in zip(_CONTEXT, ctx or [()] * len(_CONTEXT), strict=True)}})

    def key(self, pos: int) -> tuple[str, str]:
        """(project, id) of the item at ``pos``."""
        return self.chunks[int(self.batch[pos])].project, self.items[pos].id

    @property
    def types(self) -> list[str]:
        return sorted(self.tables)

    def register(self, con: Connection) -> None:
        """Make the tables visible to ``con``: ``_ww_ctx`` and ``_ww_w``, every type's wire
        columns side by side (null where a type has no such field), with a ``type`` column.

        One registration for all types: each costs DuckDB about a millisecond here."""
        con.register("_ww_ctx", self.context)
        tables = [t.append_column("type", pa.array([k] * t.num_rows, pa.string()))
                  for k, t in self.tables.items()]
        con.register("_ww_w", pa.concat_tables(tables, promote_options="default"))
        # scanning a registered Arrow table has a high fixed price per statement here: copy it
        # once into an in-memory temp table (not logged) that the per-type INSERTs then read
        con.execute("CREATE OR REPLACE TEMP TABLE _ww_wt AS SELECT w.*, c.project, c.skew "
                    "FROM _ww_w w JOIN _ww_ctx c ON w.batch = c.batch")

    def unregister(self, con: Connection) -> None:
        for name in ("_ww_ctx", "_ww_w"):
            con.unregister(name)

    def keys_sql(self) -> str:
        """``pos`` and the 64-bit key ``hash(project, id)`` of every item."""
        return "SELECT pos, hash(project, id) AS h FROM _ww_wt"

    def insert(self, con: Connection, base: int, skip: str | None = None) -> None:
        """Append each type's derived rows to its table (batches numbered from ``base``),
        leaving out the ``pos`` listed in table ``skip``."""
        where = f" AND w.pos NOT IN (SELECT pos FROM {skip})" if skip else ""
        for type_ in self.types:
            con.execute(f"INSERT INTO {table_of(type_)} {_select(type_, base)}{where}")

    def per_chunk(self, flags: np.ndarray) -> list[int]:
        """Sums of a per-item 0/1 array, per chunk."""
        if not len(self.chunks):
            return []
        if not self.size:
            return [0] * len(self.chunks)
        sums = np.add.reduceat(flags.astype(np.int64), np.minimum(self.offsets, self.size - 1))
        counts = [len(c.items) for c in self.chunks]
        return [int(v) if n else 0 for v, n in zip(sums, counts, strict=True)]


def _ctx_type(name: str) -> pa.DataType:
    sql = CONTEXT_COLUMNS[name].split()[0]
    return {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "BOOLEAN": pa.bool_()}[sql]

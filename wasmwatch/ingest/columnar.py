"""From decoded batches to stored columns, a whole group commit at a time.

A request's items are decoded and checked in one typed call (:mod:`wasmwatch.ingest.schema`);
what is left per item happens here, on columns: each type's items become one Arrow table (one
C-level pass per field), and Arrow compute kernels clamp durations to 0..60000 ms, truncate
strings, drop query strings from URLs and pages, truncate counts and apply the clock skew
(:data:`_DERIVE`), giving each type's rows in the shape of its narrow table
(:meth:`Prepared.tables`) and the wide ``Row`` shape for the commit hooks and the rollups
(:meth:`Prepared.rows`), without a round trip through SQL.

Client strings are scrubbed of PII a column at a time
(:meth:`~wasmwatch.ingest.scrub.Scrubber.scrub_column`): each distinct value of a column is
scrubbed once (names, URLs, pages and units repeat), and ids only where a
vectorised check says they could hold PII at all. Per-item Python remains only where a value
needs a Python library: the scrubbing, top wasm frame and fingerprint of *error* items (regexes
and blake2b, :func:`prepare`), and the JSON of measurement tags.

Each item's dedup key is the 64-bit hash of its ``(project, id)``
(:func:`wasmwatch.store.seen.key_hashes`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, NamedTuple

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.fingerprint import fingerprint, top_wasm_frame
from wasmwatch.ingest.scrub import Scrubber
from wasmwatch.store.layout import CARRIED, CONTEXT_COLUMNS, TYPE_COLUMNS
from wasmwatch.store.schema import COLUMNS
from wasmwatch.store.seen import key_hashes

__all__ = ["LIMITS", "MAX_MS", "Chunk", "Prepared", "prepare"]

MAX_MS = 60_000.0
#: a server span's statement is cut to this many characters (the client scrubs literals out)
STATEMENT_LIMIT = 2048
DAY_MS = 86_400_000
LIMITS = {"name": 256, "kind": 256, "url": 1024, "page": 256, "unit": 64, "message": 2048,
          "stack": 16384, "context": 128, "tag_key": 64, "tag_value": 256}
_STRINGS = {"id", "url", "name", "kind", "category", "message", "stack", "operation", "frame",
            "fingerprint", "page", "unit", "tags_json", "route", "method", "trace_id", "span_id",
            "parent_span_id", "service", "statement", "session"}
_BOOLS = {"cached", "streaming", "ok", "offline", "online"}
_CONTEXT = tuple(CONTEXT_COLUMNS)
_tags_encoder = msgspec.json.Encoder()


class Chunk(NamedTuple):
    """One request's checked items and their batch context (values in ``CONTEXT_COLUMNS``
    order, ``project`` first); ``scrubber`` scrubs the items' strings and ids at commit (None:
    stored as sent)."""

    context: tuple[Any, ...]
    items: Sequence[s.Item]
    nbytes: int
    scrubber: Scrubber | None = None

    @property
    def project(self) -> str:
        return str(self.context[0])


# -- per request: what only Python can compute ----------------------------------------------

def _clip(text: str | None, limit: int) -> str | None:
    return text if text is None or len(text) <= limit else text[:limit]


_ERROR_SCRUBBED = ("kind", "message", "stack", "operation")


def _fix_error(it: s.Error, scrubber: Scrubber | None) -> None:
    if scrubber is not None:  # before the fingerprint, so it is made of what is stored
        for field in _ERROR_SCRUBBED:
            value = getattr(it, field)
            if value is not None:
                setattr(it, field, scrubber.scrub(value))
    it.stack = stack = _clip(it.stack, LIMITS["stack"])
    it.kind = _clip(it.kind, LIMITS["kind"]) or "Error"
    it.message = _clip(it.message, LIMITS["message"]) or ""
    it.frame = _frame_of(stack) if stack is None or len(stack) <= _CACHED_STACK else top_wasm_frame(stack)
    it.fingerprint = _fingerprint_of(it.kind, it.message, it.frame)


#: an error's frame and fingerprint are remembered for the last distinct values (the same
#: error arrives from many sessions): stacks of at most _CACHED_STACK characters, so the
#: caches hold at most ~1024 x 4 KB + 2048 x 2.4 KB (kind and message are clipped)
_CACHED_STACK = 4096
_frame_of = lru_cache(maxsize=1024)(top_wasm_frame)
_fingerprint_of = lru_cache(maxsize=2048)(fingerprint)
#: tags whose JSON is at most this long hold no key or string value over its limit
_SHORT_TAGS = min(LIMITS["tag_key"], LIMITS["tag_value"])


def _fix_tags(it: s.Measurement | s.ServerSpan, scrubber: Scrubber | None) -> None:
    if not it.tags:
        it.tags_json = None
        return
    encoded = _tags_encoder.encode(it.tags)
    if len(encoded) > _SHORT_TAGS:  # some key or value may be over its limit: clip each
        clean = {key[: LIMITS["tag_key"]]: _clip(val, LIMITS["tag_value"])
                 if isinstance(val, str) else val for key, val in it.tags.items()}
        encoded = _tags_encoder.encode(clean)
    it.tags_json = encoded.decode()
    if scrubber is not None:
        it.tags_json = scrubber._tags(it.tags_json) or it.tags_json


def prepare(items: Sequence[s.Item], scrubber: Scrubber | None = None) -> None:
    """Fill the derived fields of error and measurement items in place (scrubbing an error's
    strings first, and a measurement's tags, when given a scrubber). The other strings and the
    ids are scrubbed a column at a time in :class:`Prepared`."""
    kinds = set(map(type, items))
    if s.Error in kinds:
        for error in [it for it in items if type(it) is s.Error]:
            _fix_error(error, scrubber)
    if s.Measurement in kinds or s.ServerSpan in kinds:
        for tagged in [it for it in items if type(it) is s.Measurement or type(it) is s.ServerSpan]:
            _fix_tags(tagged, scrubber)


# -- scrubbing, a column at a time -------------------------------------------------------------

#: the wire fields scrubbed at commit, per type (errors are scrubbed in :func:`prepare`)
_SCRUBBED: dict[str, tuple[str, ...]] = {
    "bundle_load": ("url",), "operation": ("name",), "engagement": ("page",),
    "feature": ("name",), "measurement": ("name", "unit"),
    "server_request": ("route", "service", "session"),
    "server_span": ("name", "service", "statement"), "server_process": ("service",),
}


def _scrub_ids(ids: list[str], col: pa.Array, scrubber: Scrubber) -> list[str]:
    """Ids as they are stored (``col``: the same as Arrow): only those that could hold PII by
    the tests of :meth:`Scrubber.scrub_id` (40+ characters, 13 digits in a row, two dots or
    two colons), checked here on the whole column, are looked at one by one; the SDK's ids
    never are."""
    maybe = pc.or_(pc.or_(pc.greater_equal(pc.utf8_length(col), _FORTY),
                          pc.match_substring_regex(col, r"(?:\d-?){13}")),
                   pc.or_(pc.greater_equal(pc.count_substring(col, "."), _TWO),
                          pc.greater_equal(pc.count_substring(col, ":"), _TWO)))
    where = np.flatnonzero(maybe.to_numpy(zero_copy_only=False))
    if not len(where):
        return ids
    out = ids
    for pos in where:
        clean = scrubber.scrub_id(ids[pos])
        if clean != ids[pos]:
            if out is ids:
                out = list(ids)
            out[pos] = clean
    return out


# -- per commit: columns and their derivation --------------------------------------------------

def _arrow_type(field: str) -> pa.DataType:
    if field in _STRINGS:
        return pa.string()
    return pa.bool_() if field in _BOOLS else pa.float64()


_SQL_ARROW = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(),
              "BOOLEAN": pa.bool_()}


def _stored_type(column: str) -> pa.DataType:
    return _SQL_ARROW[COLUMNS[column].split()[0]]


_FIELDS: dict[type[Any], tuple[str, ...]] = {
    t: tuple(f for f in t.__struct_fields__ if f not in ("tags", "id")) for t in s.Item.__args__
}
_TAG: dict[type[Any], str] = {t: t.__struct_config__.tag for t in _FIELDS}


def _getter(field: str) -> Callable[[Sequence[Any]], list[Any]]:
    """``lambda group: [it.<field> for it in group]``: a comprehension reading a fixed
    attribute runs 2-3x faster than ``list(map(attrgetter(field), group))`` (CPython
    specializes the attribute load; measured in ``bench/RESULTS.md``)."""
    if not field.isidentifier():
        raise ValueError(field)
    getter: Callable[[Sequence[Any]], list[Any]] = eval(  # a field name, checked above
        f"lambda group: [it.{field} for it in group]")
    return getter


_GET = {f: _getter(f) for fields in _FIELDS.values() for f in (*fields, "id")}
_KINDS = tuple(_FIELDS)
_CODE = {t: i for i, t in enumerate(_KINDS)}
Derive = Callable[[pa.Table], Any]


# Arrow scalars made once: a Python number passed to a kernel is converted on every call, and
# that conversion tries (and fails) to import pandas each time, a search of sys.path
_ZERO, _MAX_MS, _DAY = pa.scalar(0.0), pa.scalar(MAX_MS), pa.scalar(float(DAY_MS))
_FORTY, _TWO = pa.scalar(40, pa.int32()), pa.scalar(2, pa.int32())


def _clamp(field: str) -> Derive:
    return lambda w: pc.min_element_wise(pc.max_element_wise(w[field], _ZERO, skip_nulls=False),
                                         _MAX_MS, skip_nulls=False)


def _cut(field: str, limit: int) -> Derive:
    return lambda w: pc.utf8_slice_codeunits(w[field], 0, limit)


def _path(field: str, limit: int) -> Derive:
    """Up to the first ``?`` or ``#`` (query strings and fragments carry tokens), cut."""
    return lambda w: pc.utf8_slice_codeunits(
        pc.replace_substring_regex(w[field], r"[?#][\s\S]*", ""), 0, limit)


def _count(field: str) -> Derive:
    return lambda w: pc.cast(pc.trunc(w[field]), pa.int64())


def _same(field: str) -> Derive:
    return lambda w: w[field]


def _trunc(field: str) -> Derive:
    return lambda w: pc.trunc(w[field])


def _lower(field: str) -> Derive:
    return lambda w: pc.utf8_lower(w[field])


_NAME = _cut("name", LIMITS["name"])
_TRACE = {"trace_id": _lower("trace_id"), "span_id": _lower("span_id"),
          "parent_span_id": _lower("parent_span_id")}
_SERVICE = _cut("service", LIMITS["context"])
_FIVE_HUNDRED = pa.scalar(500.0)
# stored column -> its derivation from the type's wire table, per type
_DERIVE: dict[str, dict[str, Derive]] = {
    "bundle_load": {"name": _path("url", LIMITS["url"]), "ms": _clamp("total_ms"),
                    "cached": _same("cached"), "streaming": _same("streaming"),
                    "fetch_ms": _clamp("fetch_ms"), "compile_ms": _clamp("compile_ms"),
                    "instantiate_ms": _clamp("instantiate_ms"),
                    "transfer_bytes": _count("transfer_bytes"),
                    "decoded_bytes": _count("decoded_bytes")},
    "runtime_init": {"ms": _clamp("ms")},
    "operation": {"name": _NAME, "ms": _clamp("ms"), "ok": _same("ok"),
                  "offline": _same("offline"), "expected_ms": _clamp("expected_ms"),
                  "trace_id": _lower("trace_id")},
    "error": {"kind": _same("kind"), "category": _same("category"), "message": _same("message"),
              "stack": _same("stack"), "frame": _same("frame"),
              "fingerprint": _same("fingerprint"), "name": _cut("operation", LIMITS["name"]),
              "value": _trunc("memory_bytes")},
    "memory": {"value": _trunc("wasm_bytes"), "js_heap_bytes": _count("js_heap_bytes"),
               "grow_count": _count("grow_count"), "gc_count": _count("gc_count"),
               "gc_ms": _clamp("gc_ms")},
    "engagement": {"ms": lambda w: pc.min_element_wise(w["visible_ms"], _DAY, skip_nulls=False),
                   "offline": lambda w: pc.invert(w["online"]),
                   "name": _path("page", LIMITS["page"])},
    "feature": {"name": _NAME},
    "offline_sync": {"synced": _count("synced"), "ms": _clamp("ms"),
                     "conflicts": _count("conflicts"), "ok": _same("ok"),
                     "pending": _count("pending")},
    "measurement": {"name": _NAME, "value": _same("value"), "unit": _cut("unit", LIMITS["unit"]),
                    "tags": _same("tags_json")},
    "server_request": {"name": _path("route", LIMITS["name"]),
                       "method": lambda w: pc.utf8_slice_codeunits(pc.utf8_upper(w["method"]), 0, 16),
                       "status": _count("status"), "ms": _clamp("ms"),
                       "ok": lambda w: pc.coalesce(w["ok"], pc.less(w["status"], _FIVE_HUNDRED)),
                       **_TRACE, "service": _SERVICE,
                       "session": _cut("session", LIMITS["context"])},
    "server_span": {"name": _NAME, "kind": _same("kind"), "ms": _clamp("ms"), "ok": _same("ok"),
                    **_TRACE, "service": _SERVICE,
                    "statement": _cut("statement", STATEMENT_LIMIT), "tags": _same("tags_json")},
    "server_process": {"service": _SERVICE, "rss_bytes": _count("rss_bytes"),
                       "cpu_s": _same("cpu_s"), "threads": _count("threads"),
                       "gc_count": _count("gc_count"), "gc_ms": _same("gc_ms")},
}


def _wire(kind: type[Any], group: Sequence[s.Item], scrubber: Scrubber | None) -> pa.Table:
    """One type's items as Arrow columns, their client strings scrubbed."""
    tag = _TAG[kind]
    scrubbed = _SCRUBBED.get(tag, ()) if scrubber is not None else ()
    cols = {}
    for f in _FIELDS[kind]:
        values = _GET[f](group)
        if f in scrubbed:
            values = scrubber.scrub_column(values)  # type: ignore[union-attr]
        cols[f] = pa.array(values, _arrow_type(f))
    return pa.table(cols)


def _cast(values: Any, column: str) -> Any:
    want = _stored_type(column)
    return values if values.type == want else pc.cast(values, want)


class Prepared:
    """A group of chunks as Arrow tables: each type's stored rows (batches numbered from 0 in
    chunk order), the contexts, and every item's dedup key (in ``pos`` order)."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = chunks
        counts = np.fromiter((len(c.items) for c in chunks), np.int64, len(chunks))
        self.size = int(counts.sum())
        self.offsets = np.concatenate(([0], np.cumsum(counts)[:-1])) if len(chunks) else counts
        items = self.items = list(chain.from_iterable(c.items for c in chunks))
        self.batch = np.repeat(np.arange(len(chunks), dtype=np.int64), counts)
        scrubber = next((c.scrubber for c in chunks if c.scrubber is not None), None)
        ids = [it.id for it in items]
        id_array = pa.array(ids, pa.string())
        if scrubber is not None and ids:
            scrubbed = _scrub_ids(ids, id_array, scrubber)
            if scrubbed is not ids:
                ids, id_array = scrubbed, pa.array(scrubbed, pa.string())
        self.ids = ids
        self._id_array = id_array
        projects = list(chain.from_iterable(repeat(c.project, len(c.items)) for c in chunks))
        self.keys = key_hashes(projects, ids)
        skew = np.fromiter((int(c.context[2]) for c in chunks), np.int64, len(chunks))
        self._stored: dict[str, tuple[np.ndarray, pa.Table]] = {}
        ctx = list(zip(*(c.context for c in chunks), strict=True)) if chunks else []
        self.context = pa.table(
            {"batch": pa.array(np.arange(len(chunks), dtype=np.int64)),
             **{name: pa.array(list(values) if chunks else [], _ctx_type(name))
                for name, values in zip(_CONTEXT, ctx or [()] * len(_CONTEXT), strict=True)}})
        codes = np.fromiter(map(_CODE.__getitem__, map(type, items)), np.int8, len(items))
        present = np.unique(codes)
        for code in present:
            kind = _KINDS[code]
            if len(present) == 1:
                group, pos = items, np.arange(len(items), dtype=np.int64)
            else:
                pos = np.flatnonzero(codes == code)
                picked = itemgetter(*pos.tolist())(items)  # one C call (a tuple, or one item)
                group = list(picked) if len(pos) > 1 else [picked]
            tag = _TAG[kind]
            wire = _wire(kind, group, scrubber)
            self._stored[tag] = (pos, self._derive(tag, wire, pos, skew))

    def _derive(self, type_: str, wire: pa.Table, pos: np.ndarray, skew: np.ndarray) -> pa.Table:
        batch = self.batch[pos]
        ts = np.trunc(wire["ts"].to_numpy()).astype(np.int64) + skew[batch]
        ids = self._id_array if len(pos) == self.size else self._id_array.take(pa.array(pos))
        cols: dict[str, Any] = {"batch": pa.array(batch), "id": ids, "ts": pa.array(ts)}
        own = _DERIVE[type_]
        for c in TYPE_COLUMNS[type_]:
            cols[c] = _cast(own[c](wire), c)
        for c in CARRIED[type_]:  # the batch's context on each row (layout version 3)
            cols[c] = self.context[c].take(cols["batch"])
        return pa.table(cols)

    def key(self, pos: int) -> tuple[str, str]:
        """(project, id) of the item at ``pos``."""
        return self.chunks[int(self.batch[pos])].project, self.ids[pos]

    @property
    def types(self) -> list[str]:
        return sorted(self._stored)

    def context_table(self, base: int) -> pa.Table:
        """The ``batches`` rows of this group, numbered from ``base``."""
        return self.context.set_column(0, "batch", pc.add(self.context["batch"], _int(base)))

    def tables(self, base: int, keep: np.ndarray | None = None) -> dict[str, pa.Table]:
        """Each type's rows in its table's column order (batches from ``base``), only those
        whose ``pos`` is set in ``keep`` when given; types left with no rows are left out."""
        out = {}
        for type_, (pos, table) in sorted(self._stored.items()):
            if keep is not None and not keep[pos].all():
                table = table.filter(pa.array(keep[pos]))
            if table.num_rows:
                out[type_] = table.set_column(0, "batch", pc.add(table["batch"], _int(base)))
        return out

    def rows(self, base: int, keep: np.ndarray | None = None,
             columns: Sequence[str] | None = None) -> pa.Table:
        """The kept items in the wide ``Row`` shape (``columns`` of it, default all), as
        view ``items`` shows them once stored with batches from ``base``."""
        wanted = tuple(columns or COLUMNS)
        ctx = self.context
        parts = []
        for type_, table in self.tables(0, keep).items():
            n = table.num_rows
            context = ctx.take(table["batch"])
            cols = {}
            for c in wanted:
                if c in TYPE_COLUMNS[type_] or c in ("id", "ts"):
                    cols[c] = table[c]
                elif c == "type":
                    cols[c] = pa.repeat(pa.scalar(type_, pa.string()), n)
                elif c == "client_ts":
                    cols[c] = pc.subtract(table["ts"], context["skew"])
                elif c in CONTEXT_COLUMNS:
                    cols[c] = context[c]
                else:
                    cols[c] = pa.nulls(n, _stored_type(c))
            parts.append(pa.table(cols))
        if not parts:
            return pa.table({c: pa.array([], _stored_type(c)) for c in wanted})
        return pa.concat_tables(parts)

    def per_chunk(self, flags: np.ndarray) -> list[int]:
        """Sums of a per-item 0/1 array, per chunk."""
        if not len(self.chunks):
            return []
        if not self.size:
            return [0] * len(self.chunks)
        sums = np.add.reduceat(flags.astype(np.int64), np.minimum(self.offsets, self.size - 1))
        counts = [len(c.items) for c in self.chunks]
        return [int(v) if n else 0 for v, n in zip(sums, counts, strict=True)]


def _int(value: int) -> pa.Scalar:
    return pa.scalar(value, pa.int64())


def _ctx_type(name: str) -> pa.DataType:
    return _SQL_ARROW[CONTEXT_COLUMNS[name].split()[0]]

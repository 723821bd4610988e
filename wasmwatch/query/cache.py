"""Aggregated rollup buckets of recent answers, kept for the next answer over the same buckets.

A long window's summary reads its whole buckets from the rollup (see
:func:`~wasmwatch.query.sources.rollup_window`). Those buckets change only when the rollup's
flush aggregates items dated inside them (late or replayed items), or when retention deletes
them; a dashboard asking for the same window again, with ``now`` a few seconds later, reads
the same hour and day buckets again. :class:`SpanCache` keeps, per filter and span of buckets
(:class:`~wasmwatch.query.rollup.Span`), the rows a summary aggregated from them, so the next
summary reads from DuckDB only the spans it has not kept and the raw rows at the edges.

An entry is exact, not "fresh enough". A span's rollup rows depend only on which batches the
rollup holds (its watermark, ``rollup_state.through_batch``, moved in the same transaction as
the rows). Before each flush aggregates, :meth:`SpanCache.record` (a flush hook, inside the
flush's transaction) notes the batches it adds (watermark before and after) and the hours its
items are dated in. An entry made at watermark ``w0`` answers a reader whose snapshot has
watermark ``w`` only if no flush recorded between the two added an item to an hour of the
span; if the record of flushes does not reach back to ``min(w0, w)`` (or forward to
``max(w0, w)``) the entry is not used. Retention (:meth:`SpanCache.forget_before`, called before
the rollup's delete) drops the spans starting before the cutoff and refuses them afterwards.

A summary (and a latency series) keeps two kinds of entry: each span's rows, and the rows
of all its spans merged (keyed by the spans; checked against the range they cover
together), so the same window asked again merges only its raw rows into them, and one asked
a minute later reads only the spans that changed.

Memory is bounded by ``max_rows`` rows held (least recently used entries go first) and
``max_flushes`` flush records (older entries then cannot be checked and are not used).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from wasmwatch.query import rollup
from wasmwatch.query.sources import Filters, Window, tagged

__all__ = ["MAX_FLUSHES", "MAX_ROWS", "SpanCache", "merge_spans", "read_spans", "together"]

MAX_ROWS = 120_000  # ~17 MB: 143 bytes a row held, measured on the 10 M-item benchmark
MAX_FLUSHES = 4096
_HOUR_MS = 3_600_000

Rows = tuple[tuple[Any, ...], ...]
Key = tuple[Hashable, int, int]  # (what, first bucket start, end of the last bucket)

# the watermark before the flush, after it, and the hours (ts // 1 h) of the items it adds
_TOUCHED = """
SELECT (SELECT coalesce(max(through_batch), 0) FROM rollup_state),
  {through}, list(DISTINCT ts // 3600000)
FROM {batch}"""


@dataclass(frozen=True)
class _Flush:
    after: int  # batches above this ...
    through: int  # ... up to this one were added
    hours: frozenset[int]


@dataclass(frozen=True)
class _Entry:
    mark: int
    value: Any
    size: int  # rows held


class SpanCache:
    """Values aggregated from rollup buckets, keyed by ``(what, start_ms, end_ms)``: what
    was aggregated, over the buckets starting in ``[start_ms, end_ms)``; see the module doc."""

    def __init__(self, max_rows: int = MAX_ROWS, max_flushes: int = MAX_FLUSHES) -> None:
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._rows = 0
        self._flushes: deque[_Flush] = deque(maxlen=max_flushes)
        self._known: tuple[int, int] | None = None  # watermarks the flush record covers
        self._floor = -(1 << 62)  # retention: no span starting before this
        self.hits = 0
        self.misses = 0

    @property
    def rows(self) -> int:
        """Rows held."""
        return self._rows

    # -- the writer's side -----------------------------------------------------------------

    def record(self, con: Any, batch: str) -> None:
        """Flush hook (before ``rollup.apply``, in its transaction): note the batches and
        hours the rows in ``batch`` are about to add to the rollup."""
        touched = _TOUCHED.format(batch=batch, through=rollup.THROUGH)
        ((after, through, hours),) = con.execute(touched).fetchall()
        self.flushed(int(after), int(through), [int(h) for h in hours or () if h is not None])

    def flushed(self, after: int, through: int, hours: Sequence[int]) -> None:
        """Batches ``after < batch <= through`` are being added, their items in ``hours``."""
        with self._lock:
            if self._known is None or after > self._known[1] or after < self._known[0]:
                self._flushes.clear()  # a gap (or a restart of the count): start again
                self._known = (after, through)
            self._flushes.append(_Flush(after, through, frozenset(hours)))
            oldest = self._flushes[0].after
            self._known = (max(oldest, self._known[0]), max(through, self._known[1]))

    def forget_before(self, cutoff_ms: int) -> None:
        """Retention is about to delete buckets before ``cutoff_ms``: drop and refuse every
        span starting before it."""
        with self._lock:
            self._floor = max(self._floor, cutoff_ms)
            for key in [k for k in self._entries if k[1] < self._floor]:
                self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._rows = 0

    # -- the readers' side -----------------------------------------------------------------

    def get(self, key: Key, mark: int) -> Any:
        """The value kept for ``key`` if it equals what the rollup holds at watermark
        ``mark`` (the reader's snapshot), else None. Do not change it: it is shared."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not self._valid(entry.mark, mark, key[1], key[2]):
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.value

    def put(self, key: Key, mark: int, value: Any, size: int) -> None:
        """Keep ``value`` (``size`` rows), aggregated from the buckets of ``key`` in a
        snapshot with watermark ``mark``."""
        if size > self.max_rows:
            return
        with self._lock:
            if key[1] < self._floor:
                return
            if key in self._entries:
                self._drop(key)
            self._entries[key] = _Entry(mark, value, size)
            self._rows += size
            while self._rows > self.max_rows:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: Key) -> None:
        self._rows -= self._entries.pop(key).size

    def _valid(self, made: int, mark: int, start_ms: int, end_ms: int) -> bool:
        if start_ms < self._floor:
            return False
        lo, hi = min(made, mark), max(made, mark)
        if lo == hi:
            return True
        if self._known is None or lo < self._known[0] or hi > self._known[1]:
            return False  # flushes in between are not all known
        first, end = start_ms // _HOUR_MS, -(-end_ms // _HOUR_MS)
        for flush in self._flushes:
            if flush.through <= lo or flush.after >= hi:
                continue
            if any(first <= h < end for h in flush.hours):
                return False
        return True


def read_spans(con: Any, window: Window, filters: Filters, cache: SpanCache,
               what: tuple[Any, ...], sql: str, hist: bool = False,
               rest: bool = True) -> tuple[list[tuple[Any, ...]], Any]:
    """The raw rest's rows of ``window``, and the value cached for all its spans together
    (under :func:`together`) or else the rows of each span (a list of them); ``what``: what
    the rows are (the query and its filters), part of each key.

    The spans the cache does not hold are read with the rest in one statement (``sql``
    formatted with the tagged rows and the filter; its first column the span's number) and
    kept in the cache; without ``rest`` the raw rest is not read (its rows: none), and no
    statement runs when the cache holds every span."""
    mark = window.mark
    assert mark is not None
    spans = window.spans
    kept: list[Rows | None] = [None] * len(spans)
    whole = together(window, what)
    merged = None if whole is None else cache.get(whole, mark)
    if merged is None:
        kept = [cache.get((what, s.start_ms, s.end_ms), mark) for s in spans]
    missing = () if merged is not None else tuple(i for i, r in enumerate(kept) if r is None)
    found: dict[int, list[tuple[Any, ...]]] = {i: [] for i in (-1, *missing)}
    if rest or missing:
        source, where = tagged(window, missing, hist, rest), filters.where()
        for row in con.execute(sql.format(source=source.text, where=where.text),
                               [*source.params, *where.params]).fetchall():
            found[row[0]].append(row[1:])
    for i in missing:
        rows = tuple(found[i])
        cache.put((what, spans[i].start_ms, spans[i].end_ms), mark, rows, len(rows))
        kept[i] = rows
    return found[-1], merged if merged is not None else [r for r in kept if r is not None]


def together(window: Window, what: tuple[Any, ...]) -> tuple[Any, int, int] | None:
    """The cache key of all the window's spans merged (None without spans)."""
    if not window.spans:
        return None
    return ((*what, window.spans), min(s.start_ms for s in window.spans),
            max(s.end_ms for s in window.spans))


def merge_spans(window: Window, cache: SpanCache, what: tuple[Any, ...], spans: Any,
                add: Callable[[dict[Any, Any], Iterable[tuple[Any, ...]]], None],
                size: Callable[[dict[Any, Any]], int]) -> Any:
    """What :func:`read_spans` gave for the spans as one value: each span's rows folded by
    ``add(into, rows)`` and the result cached under :func:`together` (``size``: its rows, for
    the bound), or the value the cache already held. Shared with the cache: copy it to change it."""
    if not isinstance(spans, list):
        return spans
    combined: dict[Any, Any] = {}
    for rows in spans:
        add(combined, rows)
    key = together(window, what)
    if key is not None and window.mark is not None:
        cache.put(key, window.mark, combined, size(combined))
    return combined

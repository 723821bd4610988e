"""Where a query reads from: raw ``items`` over a time range, or rollup buckets; and filters.

Both kinds of source are SQL yielding the same columns (see :func:`wasmwatch.query.rollup.
counter_rows`), so one aggregate serves both: a raw source yields one counter row per item, a
rollup source yields pre-aggregated rows. :class:`Filters` then narrows either by column.
"""

from __future__ import annotations

from dataclasses import dataclass

from wasmwatch.query import rollup
from wasmwatch.query.rollup import Span

__all__ = [
    "EXACT_MAX_S",
    "Filters",
    "Sql",
    "raw_counters",
    "raw_items",
    "rollup_counters",
    "rollup_hist",
]

EXACT_MAX_S = 3600  # windows up to this long are answered exactly from raw rows

Param = str | int | float | None


@dataclass(frozen=True)
class Sql:
    """A SQL fragment and its positional parameters, in order."""

    text: str
    params: tuple[Param, ...] = ()


@dataclass(frozen=True)
class Filters:
    """Which items count: one project, optionally one release, browser family and operation.

    ``operation`` narrows operations and errors (to those in that operation) and leaves the
    other item types alone.
    """

    project: str
    release: str | None = None
    browser: str | None = None
    operation: str | None = None

    def where(self) -> Sql:
        """The filters as a boolean SQL expression over item or rollup columns."""
        parts = ["project = ?"]
        params: list[Param] = [self.project]
        if self.release is not None:
            parts.append("release = ?")
            params.append(self.release)
        if self.browser is not None:
            parts.append("browser = ?")
            params.append(self.browser)
        if self.operation is not None:
            parts.append("(type NOT IN ('operation', 'error') OR name = ?)")
            params.append(self.operation)
        return Sql(" AND ".join(parts), tuple(params))


def raw_items(from_ms: int, to_ms: int) -> Sql:
    """Raw items with ``from_ms <= ts <= to_ms``, as a parenthesised subquery."""
    return Sql("(SELECT * FROM items WHERE ts >= ? AND ts <= ?)", (from_ms, to_ms))


def raw_counters(from_ms: int, to_ms: int) -> Sql:
    """One counter row per raw item with ``from_ms <= ts <= to_ms``."""
    items = raw_items(from_ms, to_ms)
    return Sql(rollup.counter_rows(items.text), items.params)


def _union(spans: tuple[Span, ...], hist: bool) -> Sql:
    parts = [
        f"SELECT * FROM {span.tier.hist if hist else span.tier.table} WHERE t >= ? AND t < ?"
        for span in spans
    ]
    params = tuple(ms for span in spans for ms in (span.start_ms, span.end_ms))
    return Sql("\nUNION ALL\n".join(parts), params)


def rollup_counters(spans: tuple[Span, ...]) -> Sql:
    """Counter rows of the rollup buckets in ``spans``."""
    return _union(spans, hist=False)


def rollup_hist(spans: tuple[Span, ...]) -> Sql:
    """Histogram rows of the rollup buckets in ``spans``."""
    return _union(spans, hist=True)

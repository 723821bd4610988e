"""Every read of stored items the alert engine makes, behind one one-method protocol.

The engine keeps its windows in memory, fed by each commit; it reads the store only at start,
to refill them (:meth:`WindowSource.buckets`: pre-aggregated buckets of one rule's window, one
``GROUP BY`` per rule, so the cost follows the window, not the store). This is the one module
to adapt when the items layout changes. :class:`MemorySource` is the in-memory double.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from wasmwatch.alerts.rules import SERVER_TYPES, Rule
from wasmwatch.query.sketch import bin_of, bin_sql
from wasmwatch.store.schema import Row

__all__ = ["BucketRow", "DuckDBSource", "MemorySource", "WindowSource"]


@dataclass(frozen=True)
class BucketRow:
    """One time bucket of one label set: what a :class:`~wasmwatch.alerts.window.Bucket` holds."""

    t: int
    key: tuple[str, ...]
    n: int
    total: float
    high: float
    low: float
    last: float | None
    last_ts: int
    bins: tuple[tuple[int, int], ...] = ()
    #: an error-rate rule's denominator (operations), not its numerator
    denominator: bool = False


class WindowSource(Protocol):
    def buckets(self, rule: Rule, project: str, since_ms: int, until_ms: int,
                width_ms: int) -> Iterable[BucketRow]:
        """The rule's samples with ``since_ms <= ts <= until_ms``, bucketed by ``width_ms``."""
        ...


def _op_labels(rule: Rule) -> tuple[str, ...]:
    return tuple(label for label in rule.group_by if label != "category")


def _parts(rule: Rule) -> list[tuple[str, tuple[str, ...], tuple[tuple[str, str], ...], bool]]:
    """(item type, key labels, where, denominator) of each query a rule needs."""
    parts = [(rule.item_type, rule.group_by, rule.where, False)]
    if rule.metric == "error_rate":
        where = tuple((lb, v) for lb, v in rule.where if lb != "category")
        parts.append(("operation", _op_labels(rule), where, True))
    return parts


# -- DuckDB -------------------------------------------------------------------------------------

_LABEL_SQL = {"operation": "CASE WHEN type IN ('operation', 'error') THEN name END",
              "route": "CASE WHEN type IN ('server_request', 'server_span') THEN name END"}


def _label_sql(label: str) -> str:
    return f"coalesce(CAST({_LABEL_SQL.get(label, label)} AS VARCHAR), '')"


def _value_sql(rule: Rule, item_type: str) -> str:
    if item_type == "operation" and rule.metric == "error_rate":
        return "1.0"
    if rule.metric in ("error", "error_rate"):
        return "1.0"
    if rule.metric == "offline_pending":
        return "CAST(pending AS DOUBLE)"
    if item_type in ("memory", "measurement"):
        return "value"
    return "ms"


class DuckDBSource:
    """Reads ``items`` through a cursor factory (``store.reader``)."""

    def __init__(self, cursor: Callable[[], Any]) -> None:
        self._cursor = cursor

    def buckets(self, rule: Rule, project: str, since_ms: int, until_ms: int,
                width_ms: int) -> Iterable[BucketRow]:
        out: list[BucketRow] = []
        hist = rule.stat in ("p50", "p95", "p99")
        for item_type, labels, where, denominator in _parts(rule):
            value = _value_sql(rule, item_type)
            keys = [_label_sql(label) for label in labels]
            conds = ["project = ?", "ts >= ?", "ts <= ?", "type = ?", f"{value} IS NOT NULL"]
            params: list[Any] = [project, since_ms, until_ms, item_type]
            if rule.measurement is not None and not denominator:
                conds.append("name = ?")
                params.append(rule.measurement)
            for label, wanted in where:
                conds.append(f"{_label_sql(label)} = ?")
                params.append(wanted)
            bins = f"histogram({bin_sql(value)})" if hist else "NULL"
            sql = (f"SELECT (ts // {int(width_ms)}) * {int(width_ms)} AS t, "
                   + "".join(f"{k} AS k{i}, " for i, k in enumerate(keys))
                   + f"count(*), sum({value}), max({value}), min({value}), arg_max({value}, ts), "
                   f"max(ts), {bins} FROM items WHERE {' AND '.join(conds)} GROUP BY ALL")
            for r in self._cursor().execute(sql, params).fetchall():
                nk = len(keys)
                hist_map = r[nk + 7] or {}
                out.append(BucketRow(
                    int(r[0]), tuple(r[1:nk + 1]), int(r[nk + 1]), float(r[nk + 2]),
                    float(r[nk + 3]), float(r[nk + 4]), float(r[nk + 5]), int(r[nk + 6]),
                    tuple((int(b), int(c)) for b, c in dict(hist_map).items()), denominator))
        return out


# -- in memory ----------------------------------------------------------------------------------


def _label(row: Row, label: str) -> str:
    if label == "operation":
        value = row.name if row.type in ("operation", "error") else None
    elif label == "route":
        value = row.name if row.type in SERVER_TYPES else None
    else:
        value = getattr(row, label)
    return "" if value is None else str(value)


def _value(rule: Rule, row: Row) -> float | None:
    if rule.metric in ("error", "error_rate"):
        return 1.0
    if rule.metric == "offline_pending":
        return None if row.pending is None else float(row.pending)
    if row.type in ("memory", "measurement"):
        return row.value
    return row.ms


@dataclass
class MemorySource:
    """The same buckets, computed from a list of rows; for tests."""

    rows: Sequence[Row] = field(default_factory=list)

    def buckets(self, rule: Rule, project: str, since_ms: int, until_ms: int,
                width_ms: int) -> Iterable[BucketRow]:
        out: list[BucketRow] = []
        hist = rule.stat in ("p50", "p95", "p99")
        for item_type, labels, where, denominator in _parts(rule):
            groups: dict[tuple[int, tuple[str, ...]], list[tuple[int, float]]] = {}
            for row in self.rows:
                if (row.project != project or row.type != item_type
                        or not since_ms <= row.ts <= until_ms):
                    continue
                if rule.measurement is not None and not denominator and row.name != rule.measurement:
                    continue
                if any(_label(row, lb) != v for lb, v in where):
                    continue
                value = 1.0 if denominator else _value(rule, row)
                if value is None:
                    continue
                group = (row.ts // width_ms * width_ms, tuple(_label(row, lb) for lb in labels))
                groups.setdefault(group, []).append((row.ts, value))
            for (t, key), samples in groups.items():
                values = [v for _, v in samples]
                last_ts, last = max(samples)
                bins: dict[int, int] = {}
                if hist:
                    for v in values:
                        bins[bin_of(v)] = bins.get(bin_of(v), 0) + 1
                out.append(BucketRow(t, key, len(values), sum(values), max(values), min(values),
                                     last, last_ts, tuple(bins.items()), denominator))
        return out

"""Rule evaluation over incremental windows: fed by each commit, read every tick.

:meth:`Evaluator.observe` takes the rows a commit stored (the writer's ``on_commit`` hook) and
adds each to the windows of the rules that read its type, keyed by the rule's ``group_by``
labels; it returns the ``instant`` rules' hits at once, so those fire on arrival.
:meth:`Evaluator.evaluate` reads every window at ``now`` and returns one :class:`Sample` per
rule and label set. After a restart :meth:`Evaluator.backfill` fills the windows from the
store through a :class:`~wasmwatch.alerts.source.WindowSource`, so evaluation never scans the
store itself.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from wasmwatch.alerts import columnar
from wasmwatch.alerts.rules import LABELS, SERVER_TYPES, Rule
from wasmwatch.alerts.source import BucketRow, WindowSource
from wasmwatch.alerts.window import Bucket, Window, bucket_width
from wasmwatch.query.sketch import bin_of
from wasmwatch.store.schema import Row

__all__ = ["COLUMNS", "Evaluator", "Sample", "label_of"]

Key = tuple[str | None, ...]
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le}
MAX_GROUPS = 1000  # label sets per rule; more are folded into "other"
#: the row columns :meth:`Evaluator.observe` reads (labels, values, time; ``operation`` and
#: ``route`` are name)
COLUMNS = ("project", "type", "ts", "name", "ms", "value", "pending",
           *(label for label in LABELS if label not in ("operation", "route")))


@dataclass(frozen=True)
class Sample:
    """A rule's reading for one label set at one time."""

    rule: Rule
    labels: tuple[tuple[str, str], ...]
    value: float | None
    samples: int
    breach: bool


def label_of(row: Row, label: str) -> str | None:
    if label == "operation":
        return row.name if row.type in ("operation", "error") else None
    if label == "route":
        return row.name if row.type in SERVER_TYPES else None
    value = getattr(row, label)
    return None if value is None else str(value)


_TS = operator.attrgetter("ts")
# the operation label of operations and errors is their name, the route of server items too
_ATTR = {"operation": "name", "route": "name"}


def _value_attr(rule: Rule) -> str | None:
    """The row field a rule reads (None: each matching item counts 1)."""
    if rule.metric in ("error", "error_rate"):
        return None
    if rule.metric == "offline_pending":
        return "pending"
    if rule.item_type in ("memory", "measurement"):
        return "value"
    return "ms"


def _filter(where: Sequence[tuple[str, str]]) -> Callable[[Row], bool] | None:
    """A row predicate for ``where`` (label = value, all of them), or None for no filter."""
    if not where:
        return None
    get: Callable[[Row], Any] = operator.attrgetter(*(_ATTR.get(lb, lb) for lb, _ in where))
    wanted: Any = where[0][1] if len(where) == 1 else tuple(v for _, v in where)
    return lambda row: bool(get(row) == wanted)


class _Series:
    """The windows of one rule, by label set (two per label set for the error rate)."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        hist = rule.stat in ("p50", "p95", "p99")
        baseline = rule.baseline_ms if rule.kind == "regression" else 0
        self._make: Callable[[], Window] = lambda: Window(rule.window_ms, baseline_ms=baseline,
                                                          hist=hist)
        self._hist, self._width = hist, bucket_width(rule.window_ms)
        attr = _value_attr(rule)
        self._value: Callable[[Row], Any] | None = operator.attrgetter(attr) if attr else None
        self._value_column = attr
        self._where = _filter(rule.where)
        self._op_where = _filter(tuple((lb, v) for lb, v in rule.where if lb != "category"))
        self.windows: dict[Key, Window] = {}
        self.operations: dict[Key, Window] = {}  # error_rate's denominator
        # the operations' key leaves out labels operations do not have
        self.op_labels = tuple(label for label in rule.group_by if label != "category")

    def window(self, table: dict[Key, Window], key: Key) -> Window:
        window = table.get(key)
        if window is None:
            if len(table) >= MAX_GROUPS:
                key = ("other",) * len(key)
                window = table.get(key)
                if window is not None:
                    return window
            window = table[key] = self._make()
        return window

    def add_rows(self, rows: Sequence[Row], operations: Sequence[Row], now_ms: int) -> set[Key]:
        """Add one commit's rows of the rule's type (and, for the error rate, its operations);
        returns the label sets that got samples.

        The hot path of the commit hook: per row only a filter, one field read, a key and an
        append; sums, extremes and bins are taken per label set and bucket afterwards."""
        name = self.rule.measurement
        if name is not None:
            rows = [r for r in rows if r.name == name]
        numer = self._gather(rows, self._where, self.rule.group_by, self._value)
        denom = self._gather(operations, self._op_where, self.op_labels, None) if operations else {}
        now_idx = now_ms // self._width
        for table, accs in ((self.operations, denom), (self.windows, numer)):
            for (key, idx), samples in accs.items():
                self.window(table, key).merge(min(idx, now_idx), self._bucket(samples), now_ms)
        return {key for key, _ in numer}

    def add_table(self, table: pa.Table, now_ms: int) -> set[Key]:
        """:meth:`add_rows` for a commit's Arrow table (``Row`` columns), a column at a time."""
        rule = self.rule
        numer = columnar.gather(columnar.select(table, rule.item_type, rule.measurement, rule.where),
                                rule.group_by, self._value_column, self._width, self._hist)
        denom = {}
        if rule.metric == "error_rate":
            ops = columnar.select(table, "operation", None,
                                  tuple((lb, v) for lb, v in rule.where if lb != "category"))
            denom = columnar.gather(ops, self.op_labels, None, self._width, self._hist)
        now_idx = now_ms // self._width
        for windows, accs in ((self.operations, denom), (self.windows, numer)):
            for (key, idx), bucket in accs.items():
                self.window(windows, key).merge(min(idx, now_idx), bucket, now_ms)
        return {key for key, _ in numer}

    def _gather(self, rows: Sequence[Row], where: Callable[[Row], bool] | None,
                labels: tuple[str, ...], value_of: Callable[[Row], Any] | None,
                ) -> dict[tuple[Key, int], list[tuple[int, float]]]:
        """Samples by (label set, bucket index); fields read with C-level getters, one pass."""
        if where is not None:
            rows = [r for r in rows if where(r)]
        if not rows:
            return {}
        width = self._width
        tss = list(map(_TS, rows))
        vals = list(map(value_of, rows)) if value_of is not None else [1.0] * len(rows)
        if not labels:
            raw: list[Any] = [()] * len(rows)
        else:
            raw = list(map(operator.attrgetter(*(_ATTR.get(lb, lb) for lb in labels)), rows))
        wrap = len(labels) == 1
        out: dict[tuple[Any, int], list[tuple[int, float]]] = {}
        for key, value, ts in zip(raw, vals, tss, strict=True):
            if value is None:
                continue
            acc_key = (key, ts // width)
            samples = out.get(acc_key)
            if samples is None:
                out[acc_key] = [(ts, value)]
            else:
                samples.append((ts, value))
        if wrap:
            return {((key,), idx): samples for (key, idx), samples in out.items()}
        return out

    def _bucket(self, samples: list[tuple[int, float]]) -> Bucket:
        values = [v for _, v in samples]
        bins: dict[int, int] = {}
        if self._hist:
            for v in values:
                b = bin_of(v)
                bins[b] = bins.get(b, 0) + 1
        last_ts, last = max(samples, key=operator.itemgetter(0))
        return Bucket(n=len(values), total=float(sum(values)), bins=bins, high=max(values),
                      low=min(values), last=last, last_ts=last_ts)

    def read(self, key: Key, window: Window, now_ms: int) -> Sample:
        rule = self.rule
        value: float | None
        samples = window.recent.n
        if rule.metric == "error_rate":
            op_key = tuple(v for lb, v in zip(rule.group_by, key, strict=True) if lb != "category")
            ops = self.operations.get(op_key)
            if ops is not None:
                ops.advance(now_ms)
            samples = ops.recent.n if ops is not None else 0
            value = window.recent.n / samples if samples else None
        elif rule.kind == "regression":
            recent, base = window.stat(rule.stat), window.baseline_stat(rule.stat)
            value = recent / base if recent is not None and base else None
            samples = min(window.recent.n, window.baseline.n)
        else:
            value = window.stat(rule.stat)
        breach = (value is not None and samples >= rule.min_samples
                  and _COMPARE[rule.op](value, rule.threshold))
        labels = tuple((lb, "" if v is None else str(v)) for lb, v in zip(rule.group_by, key, strict=True))
        return Sample(rule, labels, value, samples, breach)

    def evaluate(self, now_ms: int) -> list[Sample]:
        out = []
        for key, window in list(self.windows.items()):
            window.advance(now_ms)
            if window.empty:
                del self.windows[key]
                continue
            out.append(self.read(key, window, now_ms))
        for key, ops in list(self.operations.items()):
            ops.advance(now_ms)
            if ops.empty:
                del self.operations[key]
        return out


class Evaluator:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self._series = {rule.name: _Series(rule) for rule in self.rules}

    def observe(self, rows: Iterable[Row], now_ms: int) -> list[Sample]:
        """Add committed rows to the windows; return the instant rules' readings they moved."""
        by_type: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            by_type[row.type].append(row)
        out = []
        no_rows: list[Row] = []
        for series in self._series.values():
            rule = series.rule
            batch = by_type.get(rule.item_type, no_rows)
            ops = by_type.get("operation", no_rows) if rule.metric == "error_rate" else no_rows
            if not batch and not ops:
                continue
            out += _instant(series, series.add_rows(batch, ops, now_ms), now_ms)
        return out

    def observe_table(self, table: pa.Table, now_ms: int) -> list[Sample]:
        """:meth:`observe` for a commit's Arrow table (``Row`` columns, at least
        :data:`COLUMNS`), without a Python step per row."""
        present = set(table["type"].unique().to_pylist()) if table.num_rows else set()
        out = []
        for series in self._series.values():
            rule = series.rule
            if rule.item_type not in present and not (
                    rule.metric == "error_rate" and "operation" in present):
                continue
            out += _instant(series, series.add_table(table, now_ms), now_ms)
        return out

    def evaluate(self, now_ms: int) -> list[Sample]:
        """Every rule's reading of every label set with samples in its window."""
        return [s for series in self._series.values() for s in series.evaluate(now_ms)]

    def backfill(self, source: WindowSource, project: str, now_ms: int) -> int:
        """Fill the windows from the store (after a start); returns the buckets read."""
        read = 0
        for series in self._series.values():
            rule = series.rule
            window = series._make()
            since = now_ms - rule.window_ms - window.baseline_ms
            for row in source.buckets(rule, project, since, now_ms, window.width):
                series_window = self._target(series, row)
                if series_window is not None:
                    series_window.merge(row.t // window.width, _bucket(row), now_ms)
                    read += 1
        return read

    def _target(self, series: _Series, row: BucketRow) -> Window | None:
        key = tuple(v if v != "" else None for v in row.key)  # the store says '' for NULL
        if row.denominator:
            return series.window(series.operations, key)
        return series.window(series.windows, key)


def _bucket(row: BucketRow) -> Bucket:
    return Bucket(n=row.n, total=row.total, bins=dict(row.bins), high=row.high, low=row.low,
                  last=row.last, last_ts=row.last_ts)


def _instant(series: _Series, keys: Iterable[Key], now_ms: int) -> list[Sample]:
    """An instant rule's readings of the label sets a commit touched (none for a window rule)."""
    if series.rule.kind != "instant":
        return []
    out = []
    for key in keys:
        window = series.windows[key]
        window.advance(now_ms)
        out.append(series.read(key, window, now_ms))
    return out

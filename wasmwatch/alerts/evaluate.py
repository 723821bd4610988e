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

from wasmwatch.alerts.rules import Rule
from wasmwatch.alerts.source import BucketRow, WindowSource
from wasmwatch.alerts.window import Bucket, Window
from wasmwatch.store.schema import Row

__all__ = ["Evaluator", "Sample", "label_of"]

Key = tuple[str, ...]
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le}
MAX_GROUPS = 1000  # label sets per rule; more are folded into "other"


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
    value = getattr(row, label)
    return None if value is None else str(value)


def _value(rule: Rule, row: Row) -> float | None:
    if rule.metric in ("error", "error_rate"):
        return 1.0
    if rule.metric == "offline_pending":
        return None if row.pending is None else float(row.pending)
    if row.type in ("memory", "measurement"):
        return row.value
    return row.ms


def _matches(rule: Rule, row: Row) -> bool:
    if rule.measurement is not None and row.name != rule.measurement:
        return False
    return all(label_of(row, label) == wanted for label, wanted in rule.where)


class _Series:
    """The windows of one rule, by label set (two per label set for the error rate)."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        hist = rule.stat in ("p50", "p95", "p99")
        baseline = rule.baseline_ms if rule.kind == "regression" else 0
        self._make: Callable[[], Window] = lambda: Window(rule.window_ms, baseline_ms=baseline,
                                                          hist=hist)
        self.windows: dict[Key, Window] = {}
        self.operations: dict[Key, Window] = {}  # error_rate's denominator
        # the operations' key leaves out labels operations do not have
        self.op_labels = tuple(label for label in rule.group_by if label != "category")

    def key(self, row: Row, labels: Sequence[str]) -> Key:
        return tuple(label_of(row, label) or "" for label in labels)

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

    def add(self, row: Row, now_ms: int) -> Key | None:
        rule = self.rule
        if row.type == "operation" and rule.metric == "error_rate":
            if all(label_of(row, lb) == v for lb, v in rule.where if lb != "category"):
                self.window(self.operations, self.key(row, self.op_labels)).add(row.ts, 1.0, now_ms)
            return None
        if not _matches(rule, row):
            return None
        value = _value(rule, row)
        if value is None:
            return None
        key = self.key(row, rule.group_by)
        self.window(self.windows, key).add(row.ts, value, now_ms)
        return key

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
        return Sample(rule, tuple(zip(rule.group_by, key, strict=True)), value, samples, breach)

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
        by_type: dict[str, list[_Series]] = defaultdict(list)
        for series in self._series.values():
            by_type[series.rule.item_type].append(series)
            if series.rule.metric == "error_rate":
                by_type["operation"].append(series)
        self._by_type = dict(by_type)

    def observe(self, rows: Iterable[Row], now_ms: int) -> list[Sample]:
        """Add committed rows to the windows; return the instant rules' readings they moved."""
        hits: dict[tuple[str, Key], _Series] = {}
        by_type = self._by_type
        for row in rows:
            for series in by_type.get(row.type, ()):
                key = series.add(row, now_ms)
                if key is not None and series.rule.kind == "instant":
                    hits[(series.rule.name, key)] = series
        out = []
        for (_, key), series in hits.items():
            window = series.windows[key]
            window.advance(now_ms)
            out.append(series.read(key, window, now_ms))
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
        if row.denominator:
            return series.window(series.operations, row.key)
        return series.window(series.windows, row.key)


def _bucket(row: BucketRow) -> Bucket:
    return Bucket(n=row.n, total=row.total, bins=dict(row.bins), high=row.high, low=row.low,
                  last=row.last, last_ts=row.last_ts)

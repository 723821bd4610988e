"""Prometheus metrics about the monitored apps, fed with the rows each commit stored.

:class:`ClientMetrics` is a prometheus_client collector (one ``collect()`` method) built from
metric definitions. After each commit the store's caller hands it the newly stored rows with
:meth:`ClientMetrics.observe`; it aggregates the batch per distinct tag columns first, then
merges into its series under a lock, so ``/metrics`` can scrape from another thread.

How definitions are reported:

================  ===========  =============================================================
definition        Prometheus   name
================  ===========  =============================================================
Counter, Sum      counter      dotted name with ``_``; base-unit suffix; ``_total``
LastValue         gauge        e.g. ``wasm_memory_heap_usage_bytes``
Summary           histogram    over ``Summary.buckets``, plus ``_sum`` and ``_count``
Distribution      histogram    over its ``buckets``
================  ===========  =============================================================

Prometheus wants base units, so a definition measured in milliseconds is exported in seconds
(``wasm.operations.duration`` is ``wasm_operations_duration_seconds``): values, sums and bucket
bounds are scaled when scraped; the definitions and their buckets stay in the seed's ms.

Summaries are histograms because prometheus_client's Summary exports no quantiles, while
``histogram_quantile()`` over buckets gives p50/p95/p99 and aggregates across label sets.

Every metric also carries a ``project`` label first (the row's project), so one project's
series never mix with another's; ``project_label=False`` leaves it out. Each tag admits at most
``max_tag_values`` distinct values per metric; later new values are reported as ``other``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from wasmwatch.store.by_type import by_type
from wasmwatch.store.schema import Row
from wasmwatch.telemetry import _aggregate
from wasmwatch.telemetry._aggregate import Histogram
from wasmwatch.telemetry._labels import LabelResolver, TagCap
from wasmwatch.telemetry.definitions import METRICS, MetricDefinition, Tag

__all__ = ["ClientMetrics", "prometheus_name"]

_log = logging.getLogger(__name__)
_UNIT_SUFFIX = {"millisecond": "seconds", "second": "seconds", "byte": "bytes"}
#: what a value in a definition's unit is divided by to be in the exported base unit
_UNIT_DIVISOR = {"millisecond": 1000.0}
_PROMETHEUS_TYPE = {
    "counter": "counter", "sum": "counter", "last_value": "gauge",
    "summary": "histogram", "distribution": "histogram",
}
_type_of = attrgetter("type")
PROJECT_TAG = Tag("project", ("project",))


def _kept(table: pa.Table, keep: Callable[[Row], object], fields: Sequence[str]) -> pa.Table:
    """The rows ``keep`` keeps, asking it once per distinct combination of ``fields``."""
    combos = table.group_by(list(fields), use_threads=False).aggregate([])
    mask = None
    for values in zip(*(combos[f].to_pylist() for f in fields), strict=True):
        if not keep(Row("", "", "", 0, 0, 0, **dict(zip(fields, values, strict=True)))):
            continue
        match = None
        for f, v in zip(fields, values, strict=True):
            m = pc.is_null(table[f]) if v is None else pc.fill_null(
                pc.equal(table[f], pa.scalar(v, table.schema.field(f).type)), False)
            match = m if match is None else pc.and_(match, m)
        mask = match if mask is None else pc.or_(mask, match)
    return table.filter(mask) if mask is not None else table.slice(0, 0)


def prometheus_name(definition: MetricDefinition) -> str:
    """The Prometheus name: ``.`` to ``_``, a unit suffix, ``_total`` for counters."""
    base = re.sub(r"[^a-zA-Z0-9_]", "_", definition.name)
    counter = _PROMETHEUS_TYPE[definition.kind] == "counter"
    if counter and base.endswith("_total"):
        base = base[: -len("_total")]
    suffix = _unit_suffix(definition)
    if suffix and not base.endswith("_" + suffix):
        base = f"{base}_{suffix}"
    return f"{base}_total" if counter else base


def _unit_suffix(definition: MetricDefinition) -> str:
    return _UNIT_SUFFIX.get(definition.unit, definition.unit)


@dataclass(eq=False)
class _Family:
    """One Prometheus metric: its shape and its series (labels -> value or histogram)."""

    name: str
    kind: str
    documentation: str
    unit: str
    label_names: tuple[str, ...]
    bounds: tuple[float, ...]
    caps: tuple[TagCap, ...]
    divisor: float = 1.0
    series: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def empty_copy(self, series: dict[tuple[str, ...], Any] | None = None) -> _Family:
        return _Family(self.name, self.kind, self.documentation, self.unit, self.label_names,
                       self.bounds, self.caps, self.divisor, series or {})

    def snapshot(self) -> Metric:
        name = self.name[: -len("_total")] if self.kind == "counter" else self.name
        labels = list(self.label_names)
        if self.kind == "counter":
            family: Metric = CounterMetricFamily(name, self.documentation, labels=labels,
                                                 unit=self.unit)
        elif self.kind == "gauge":
            family = GaugeMetricFamily(name, self.documentation, labels=labels, unit=self.unit)
        else:
            return self._histogram(name, labels)
        divisor = self.divisor
        for values, value in self.series.items():
            family.add_metric(list(values), value / divisor)  # type: ignore[attr-defined]
        return family

    def _histogram(self, name: str, labels: list[str]) -> Metric:
        family = HistogramMetricFamily(name, self.documentation, labels=labels, unit=self.unit)
        divisor = self.divisor
        edges = [floatToGoString(b / divisor) for b in self.bounds]  # type: ignore[no-untyped-call]
        edges.append("+Inf")
        for values, hist in self.series.items():
            counts = [*hist.cumulative, hist.count]
            family.add_metric(list(values), list(zip(edges, counts, strict=True)),
                              hist.total / divisor)
        return family


class _Plan:
    """One definition compiled: getters, the aggregation to use, and where it merges."""

    __slots__ = ("bounds", "family", "keep", "keep_fields", "key", "measurement", "mode",
                 "resolver", "value")

    def __init__(self, definition: MetricDefinition, family: _Family) -> None:
        self.family = family
        self.resolver = LabelResolver(definition.tags, family.caps)
        self.key = self.resolver.key_getter()
        self.value = attrgetter(definition.measurement) if definition.measurement else None
        self.keep = definition.keep
        self.keep_fields = definition.keep_fields
        self.measurement = definition.measurement
        self.bounds = definition.bounds
        self.mode = {"counter": "count" if self.value is None else "total", "sum": "total",
                     "last_value": "last"}.get(definition.kind, "histogram")

    def aggregate(self, rows: Sequence[Row]) -> dict[Hashable, Any]:
        if self.keep is not None:
            rows = list(filter(self.keep, rows))
        if self.value is None:
            return _aggregate.count(rows, self.key)
        if self.mode == "total":
            return _aggregate.total(rows, self.key, self.value)
        if self.mode == "last":
            return _aggregate.last(rows, self.key, self.value)
        return _aggregate.histogram(rows, self.key, self.value, self.bounds)

    def aggregate_table(self, table: pa.Table) -> dict[Hashable, Any]:
        """:meth:`aggregate` of an Arrow table's rows, a column at a time; ``keep`` is asked
        once per distinct value of its ``keep_fields``."""
        if self.keep is not None:
            table = _kept(table, self.keep, self.keep_fields)
        mode = "count" if self.value is None else self.mode
        return _aggregate.columnar(table, self.resolver.fields, self.measurement, mode,
                                   self.bounds)

    def merge(self, partials: dict[Hashable, Any]) -> None:
        resolve, series, kind = self.resolver.resolve, self.family.series, self.family.kind
        if kind == "gauge":
            for raw, value in partials.items():
                series[resolve(raw)] = value
        elif kind == "counter":
            for raw, value in partials.items():
                labels = resolve(raw)
                series[labels] = series.get(labels, 0.0) + value
        else:
            for raw, hist in partials.items():
                labels = resolve(raw)
                existing = series.get(labels)
                if existing is None:
                    series[labels] = hist
                else:
                    existing.add(hist)


class ClientMetrics:
    """A collector of the client metric definitions; feed it with :meth:`observe`."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        definitions: Sequence[MetricDefinition] = METRICS,
        *,
        max_tag_values: int = 50,
        project_label: bool = True,
    ) -> None:
        self._lock = threading.Lock()
        self._families: dict[str, _Family] = {}
        plans: dict[str, list[_Plan]] = {}
        for definition in definitions:
            if project_label:
                definition = dataclasses.replace(definition, tags=(PROJECT_TAG, *definition.tags))
            family = self._family_for(definition, max_tag_values)
            plans.setdefault(definition.event, []).append(_Plan(definition, family))
        self._plans = {event: tuple(found) for event, found in plans.items()}
        #: the row fields the definitions read
        self.columns = tuple(dict.fromkeys(f for d in definitions for f in d.fields))
        if registry is not None:
            registry.register(self)

    def _family_for(self, definition: MetricDefinition, max_tag_values: int) -> _Family:
        name = prometheus_name(definition)
        family = self._families.get(name)
        kind = _PROMETHEUS_TYPE[definition.kind]
        if family is None:
            family = _Family(
                name, kind, definition.description or definition.name, _unit_suffix(definition),
                definition.tag_names, definition.bounds,
                tuple(TagCap(max_tag_values) for _ in definition.tags),
                _UNIT_DIVISOR.get(definition.unit, 1.0),
            )
            self._families[name] = family
        elif (family.kind, family.label_names, family.bounds) != (
            kind, definition.tag_names, definition.bounds,
        ):
            raise ValueError(f"definitions of {name} disagree on kind, tags or buckets")
        return family

    def observe(self, rows: Sequence[Row] | pa.Table) -> None:
        """Add newly stored rows (or the writer's Arrow table of them) to the metrics; never
        raises (a failure is logged)."""
        try:
            if isinstance(rows, pa.Table):
                results = [(plan, plan.aggregate_table(selected))
                           for event, selected in self._by_event_table(rows)
                           for plan in self._plans[event]]
            else:
                results = [
                    (plan, plan.aggregate(selected))
                    for event, selected in self._by_event(rows).items()
                    for plan in self._plans[event]
                ]
            with self._lock:
                for plan, partials in results:
                    plan.merge(partials)
        except Exception:
            _log.exception("client metrics could not observe %d rows", len(rows))

    def _by_event_table(self, table: pa.Table) -> list[tuple[str, pa.Table]]:
        if not table.num_rows:
            return []
        typed = by_type(table)  # shared with the other hooks of this commit
        return [(event, typed[event]) for event in self._plans if event in typed]

    def _by_event(self, rows: Sequence[Row]) -> dict[str, list[Row]]:
        groups: dict[str, list[Row]] = {event: [] for event in self._plans}
        get = groups.get
        for row in rows:
            group = get(row.type)
            if group is not None:
                group.append(row)
        return {event: group for event, group in groups.items() if group}

    def describe(self) -> list[Metric]:
        """The metric families without samples, so the registry can check names."""
        return [f.empty_copy().snapshot() for f in self._families.values()]

    def collect(self) -> list[Metric]:
        """The current metric families (prometheus_client's collector protocol)."""
        with self._lock:
            families = [
                f.empty_copy({k: v.copy() if isinstance(v, Histogram) else v
                              for k, v in f.series.items()})
                for f in self._families.values()
            ]
        return [family.snapshot() for family in families]

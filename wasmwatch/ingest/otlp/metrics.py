"""OTLP metrics as ``server_process`` and ``measurement`` items.

The process metrics of the OpenTelemetry semantic conventions, old and new names, make one
``server_process`` item per resource and collection time:

- ``rss_bytes``: ``process.memory.usage``, ``process.runtime.<rt>.memory`` (``type=rss``)
- ``cpu_s``: ``process.cpu.time``, ``process.runtime.<rt>.cpu_time`` (user + system; a point
  without a mode or type attribute counts as it is)
- ``threads``: ``process.thread.count``, ``process.runtime.<rt>.thread_count``
- ``gc_count``: ``cpython.gc.collections``, ``process.runtime.<rt>.gc_count`` (all generations)

Every other metric point is a ``measurement``: name and unit of the metric, its attributes as
tags (16 at most); a gauge's or sum's value as it is (a cumulative sum: its running total), a
histogram's, exponential histogram's or summary's the mean of the point (sum / count). Points
without a value (or with count 0) carry nothing to store and are skipped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from wasmwatch.ingest.otlp import common as c
from wasmwatch.ingest.otlp import wire

Item = dict[str, Any]
_RUNTIME = r"process\.runtime\.\w+\."
#: metric name -> (server_process field, attribute that must match, or None)
_PROCESS: tuple[tuple[re.Pattern[str], str, tuple[str, str] | None], ...] = (
    (re.compile(r"process\.memory\.usage"), "rss_bytes", None),
    (re.compile(_RUNTIME + "memory"), "rss_bytes", ("type", "rss")),
    (re.compile(r"process\.cpu\.time"), "cpu_s", ("cpu.mode", "user|system")),
    (re.compile(_RUNTIME + "cpu_time"), "cpu_s", ("type", "user|system")),
    (re.compile(r"process\.thread\.count|" + _RUNTIME + "thread_count"), "threads", None),
    (re.compile(r"cpython\.gc\.collections|" + _RUNTIME + "gc_count"), "gc_count", None),
)


def items(request: wire.MetricsRequest) -> Iterator[c.Mapped]:
    """(origin, where in the body, item or why not) per point, and per process snapshot."""
    for r, resource_metrics in enumerate(request.resource_metrics):
        origin = c.origin(resource_metrics.resource)
        process: dict[int, Item] = {}
        for si, scope in enumerate(resource_metrics.scope_metrics):
            for mi, metric in enumerate(scope.metrics):
                where = f"resourceMetrics[{r}].scopeMetrics[{si}].metrics[{mi}]"
                field = _process_field(metric.name)
                for p, (point, value) in enumerate(_points(metric)):
                    attrs = c.attributes(point.attributes)
                    if field is not None:
                        _add_process(process, field, point.time_unix_nano, attrs, value)
                        continue
                    yield origin, f"{where}.dataPoints[{p}]", c.attempt(
                        measurement, metric, point.time_unix_nano, attrs, value, origin.service)
        for time_ns, snapshot in process.items():
            yield origin, f"resourceMetrics[{r}]", _process_item(snapshot, time_ns, origin.service)


def _points(metric: wire.Metric) -> Iterator[tuple[wire.NumberDataPoint | wire.HistogramDataPoint,
                                                   float | None]]:
    for numbers in (metric.gauge, metric.sum):
        for point in numbers.data_points if numbers else ():
            value = point.as_double if point.as_double is not None else point.as_int
            if value is not None:
                yield point, float(value)
    for histogram in (metric.histogram, metric.exponential_histogram, metric.summary):
        for hpoint in histogram.data_points if histogram else ():
            if hpoint.count > 0 and hpoint.sum is not None:
                yield hpoint, hpoint.sum / hpoint.count


def measurement(metric: wire.Metric, time_ns: int, attrs: dict[str, Any], value: float,
                service: str | None) -> Item:
    if not math.isfinite(value):
        raise c.Refused("value: not a finite number")
    tags = c.tags(attrs)
    return {"id": c.content_id("metric", service, metric.name, tags, time_ns), "type": "measurement",
            "ts": c.ms(time_ns), "name": metric.name or "metric", "value": value,
            "unit": metric.unit or None, "tags": tags}


def _process_field(name: str) -> tuple[str, tuple[str, str] | None] | None:
    for pattern, field, needs in _PROCESS:
        if pattern.fullmatch(name):
            return field, needs
    return None


def _add_process(process: dict[int, Item], field: tuple[str, tuple[str, str] | None],
                 time_ns: int, attrs: dict[str, Any], value: float | None) -> None:
    """Sum a point into the snapshot of its time (CPU modes and GC generations add up)."""
    name, needs = field
    if value is None or not math.isfinite(value):
        return
    have = attrs.get(needs[0]) if needs else None
    if needs is not None and have is not None and not re.fullmatch(needs[1], str(have)):
        return  # e.g. vms memory, iowait CPU time
    snapshot = process.setdefault(time_ns, {})
    snapshot[name] = snapshot.get(name, 0.0) + value


def _process_item(snapshot: Item, time_ns: int, service: str | None) -> Item:
    return {"id": c.content_id("process", service, time_ns), "type": "server_process",
            "ts": c.ms(time_ns), "service": service, **snapshot}

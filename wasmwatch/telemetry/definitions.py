"""Metric definitions in the Telemetry.Metrics vocabulary, derived from stored rows.

A definition says which stored :class:`~wasmwatch.store.schema.Row` it reads (``event``, the
row's ``type``), which column is the measurement, which columns become tags, and which rows to
``keep``. Reporters (:mod:`wasmwatch.telemetry.client_metrics`) turn definitions into
collectors; definitions themselves are plain immutable values.

==============  ========================================================================
``Counter``     counts kept rows; with a ``measurement`` it adds that column instead
``Sum``         adds the measurement column
``LastValue``   the measurement of the last kept row (in commit order)
``Summary``     count, sum and distribution of the measurement (default ``SUMMARY_BUCKETS``)
``Distribution`` count, sum and the given ``buckets`` of the measurement
==============  ========================================================================

Several definitions may share one name when they feed one metric from several row types (as
``offline.operations.total`` does); they must then agree on kind, unit and tag names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from itertools import pairwise
from operator import attrgetter
from typing import ClassVar

from wasmwatch.store.schema import Row

__all__ = [
    "METRICS",
    "SUMMARY_BUCKETS",
    "Counter",
    "Distribution",
    "LastValue",
    "MetricDefinition",
    "Sum",
    "Summary",
    "Tag",
]

_TAG_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ROW_FIELDS = frozenset(Row.__struct_fields__)

# Histogram bounds used to report a Summary: the seed's budgets and alert thresholds
# (50, 300, 500, 2000, 5000 ms) are bounds, so "share under budget" is exact.
SUMMARY_BUCKETS: tuple[float, ...] = (
    5, 10, 25, 50, 100, 250, 300, 500, 1000, 2000, 5000, 10000, 30000, 60000,
)


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag (label): taken from the first non-null of ``fields``, or ``default``.

    ``values`` renames raw values, e.g. ``((True, "offline"), (False, "online"))``; a tag with
    no fields is the constant ``default``.
    """

    name: str
    fields: tuple[str, ...] = ()
    values: tuple[tuple[object, str], ...] = ()
    default: str = "unknown"

    def __post_init__(self) -> None:
        if not _TAG_NAME.match(self.name) or self.name == "le" or self.name.startswith("__"):
            raise ValueError(f"invalid tag name {self.name!r}")
        unknown = set(self.fields) - _ROW_FIELDS
        if unknown:
            raise ValueError(f"tag {self.name!r}: no such row fields {sorted(unknown)}")


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """What every kind of definition has; use one of the subclasses."""

    kind: ClassVar[str] = ""
    needs_measurement: ClassVar[bool] = True

    name: str
    _: KW_ONLY
    event: str
    measurement: str | None = None
    unit: str = ""
    tags: tuple[Tag, ...] = ()
    description: str = ""
    keep: Callable[[Row], object] | None = None
    #: the row fields ``keep`` reads (the writer hands hooks only the columns they name)
    keep_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.needs_measurement and self.measurement is None:
            raise ValueError(f"{self.name}: a {self.kind} needs a measurement")
        if self.measurement is not None and self.measurement not in _ROW_FIELDS:
            raise ValueError(f"{self.name}: no such row field {self.measurement!r}")
        names = [tag.name for tag in self.tags]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate tag names {names}")

    @property
    def fields(self) -> tuple[str, ...]:
        """Every row field this definition reads."""
        tags = tuple(f for tag in self.tags for f in tag.fields)
        return ("type", *((self.measurement,) if self.measurement else ()), *tags, *self.keep_fields)

    @property
    def tag_names(self) -> tuple[str, ...]:
        """The tag names, in order."""
        return tuple(tag.name for tag in self.tags)

    @property
    def bounds(self) -> tuple[float, ...]:
        """Histogram upper bounds; empty for kinds without buckets."""
        return ()


@dataclass(frozen=True, slots=True)
class Counter(MetricDefinition):
    """Counts kept rows; with a measurement, adds it (a Prometheus counter either way)."""

    kind: ClassVar[str] = "counter"
    needs_measurement: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Sum(MetricDefinition):
    """Adds the measurement of kept rows."""

    kind: ClassVar[str] = "sum"


@dataclass(frozen=True, slots=True)
class LastValue(MetricDefinition):
    """The measurement of the most recently stored kept row."""

    kind: ClassVar[str] = "last_value"


def _check_buckets(name: str, buckets: tuple[float, ...]) -> None:
    if not buckets or not all(math.isfinite(b) for b in buckets):
        raise ValueError(f"{name}: buckets must be finite and non-empty")
    if any(a >= b for a, b in pairwise(buckets)):
        raise ValueError(f"{name}: buckets must increase strictly")


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary(MetricDefinition):
    """Count, sum and distribution; reported as a histogram over ``buckets``.

    prometheus_client's own Summary exports no quantiles, so a histogram is the more useful
    report: ``histogram_quantile`` gives p50/p95/p99 across instances and label sets.
    """

    kind: ClassVar[str] = "summary"
    buckets: tuple[float, ...] = SUMMARY_BUCKETS

    def __post_init__(self) -> None:
        MetricDefinition.__post_init__(self)
        _check_buckets(self.name, self.buckets)

    @property
    def bounds(self) -> tuple[float, ...]:
        """Histogram upper bounds."""
        return self.buckets


@dataclass(frozen=True, slots=True, kw_only=True)
class Distribution(MetricDefinition):
    """A histogram over the given ``buckets``."""

    kind: ClassVar[str] = "distribution"
    buckets: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        MetricDefinition.__post_init__(self)
        _check_buckets(self.name, self.buckets)

    @property
    def bounds(self) -> tuple[float, ...]:
        """Histogram upper bounds."""
        return self.buckets


_BOOL = ((True, "true"), (False, "false"))
_offline = attrgetter("offline")

METRICS: tuple[MetricDefinition, ...] = (
    Summary(
        "wasm.bundle.load_duration", event="bundle_load", measurement="ms", unit="millisecond",
        description="WASM bundle load time (fetch to instantiated)",
        tags=(Tag("release", ("release",)), Tag("browser", ("browser",)),
              Tag("connection", ("connection",))),
    ),
    Summary(
        "wasm.runtime.init_duration", event="runtime_init", measurement="ms", unit="millisecond",
        description="Time from start to WASM runtime ready",
        tags=(Tag("release", ("release",)), Tag("device", ("device",))),
    ),
    Counter(
        "wasm.operations.total", event="operation",
        description="WASM operations executed",
        tags=(Tag("operation", ("name",)), Tag("offline", ("offline",), _BOOL)),
    ),
    Distribution(
        "wasm.operations.duration", event="operation", measurement="ms", unit="millisecond",
        buckets=(10, 50, 100, 500, 1000, 5000),
        description="WASM operation execution time",
        tags=(Tag("operation", ("name",)),),
    ),
    LastValue(
        "wasm.memory.heap_usage", event="memory", measurement="value", unit="byte",
        description="WASM linear memory size, as last reported",
    ),
    Counter(
        "wasm.errors.total", event="error",
        description="WASM traps and errors",
        tags=(Tag("category", ("category",)), Tag("operation", ("name",))),
    ),
    Counter(
        "offline.operations.total", event="operation", keep=_offline, keep_fields=("offline",),
        description="Operations performed offline: pending when performed, "
        "then synced or failed as sync reports them",
        tags=(Tag("operation", ("name",)), Tag("sync_status", default="pending")),
    ),
    Counter(
        "offline.operations.total", event="offline_sync", measurement="synced",
        description="Operations performed offline: pending when performed, "
        "then synced or failed as sync reports them",
        tags=(Tag("operation", ("name",)),
              Tag("sync_status", ("ok",), ((True, "synced"), (False, "failed")))),
    ),
    Summary(
        "offline.sync.duration", event="offline_sync", measurement="ms", unit="millisecond",
        description="Offline sync completion time",
    ),
    Counter(
        "engagement.time_on_page", event="engagement", measurement="ms", unit="millisecond",
        description="Visible time on page",
        tags=(Tag("page", ("name", "page")),
              Tag("connection_mode", ("offline",), ((True, "offline"), (False, "online")))),
    ),
)

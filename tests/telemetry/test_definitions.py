"""Tests for wasmwatch.telemetry.definitions."""

from __future__ import annotations

import pytest

from wasmwatch.telemetry.definitions import (
    METRICS,
    Counter,
    Distribution,
    LastValue,
    Sum,
    Summary,
    Tag,
)

DESIGN = {
    "wasm.bundle.load_duration": ("summary", ("release", "browser", "connection")),
    "wasm.runtime.init_duration": ("summary", ("release", "device")),
    "wasm.operations.total": ("counter", ("operation", "offline")),
    "wasm.operations.duration": ("distribution", ("operation",)),
    "wasm.memory.heap_usage": ("last_value", ()),
    "wasm.errors.total": ("counter", ("category", "operation")),
    "offline.operations.total": ("counter", ("operation", "sync_status")),
    "offline.sync.duration": ("summary", ()),
    "engagement.time_on_page": ("counter", ("page", "connection_mode")),
}


def test_the_nine_design_metrics_are_declared() -> None:
    """METRICS declares exactly the nine metric names of DESIGN.md."""
    assert {m.name for m in METRICS} == set(DESIGN)


@pytest.mark.parametrize("definition", METRICS, ids=lambda m: f"{m.name}:{m.event}")
def test_kind_and_tags_match_design(definition: Counter) -> None:
    """Each definition has the kind and tags DESIGN.md gives it."""
    assert (definition.kind, definition.tag_names) == DESIGN[definition.name]


def test_operation_duration_buckets() -> None:
    """wasm.operations.duration has the seed's buckets in ms."""
    (duration,) = [m for m in METRICS if m.name == "wasm.operations.duration"]
    assert duration.bounds == (10, 50, 100, 500, 1000, 5000)
    assert duration.unit == "millisecond"


def test_heap_usage_is_in_bytes_from_value() -> None:
    """wasm.memory.heap_usage reads memory rows' value column, in bytes."""
    (heap,) = [m for m in METRICS if m.name == "wasm.memory.heap_usage"]
    assert (heap.event, heap.measurement, heap.unit) == ("memory", "value", "byte")


def test_time_on_page_counts_visible_ms() -> None:
    """engagement.time_on_page adds engagement rows' ms."""
    (engagement,) = [m for m in METRICS if m.name == "engagement.time_on_page"]
    assert (engagement.event, engagement.measurement) == ("engagement", "ms")


def test_summary_needs_a_measurement() -> None:
    """A summary without a measurement is rejected."""
    with pytest.raises(ValueError, match="needs a measurement"):
        Summary("x", event="operation")


@pytest.mark.parametrize("kind", [Sum, LastValue])
def test_sum_and_last_value_need_a_measurement(kind: type[Sum]) -> None:
    """Sum and LastValue need a measurement."""
    with pytest.raises(ValueError):
        kind("x", event="operation")


def test_counter_needs_no_measurement() -> None:
    """A counter without a measurement counts rows."""
    assert Counter("x", event="operation").measurement is None


@pytest.mark.parametrize("buckets", [(), (10, 5), (1, 1), (1, float("inf"))])
def test_distribution_rejects_bad_buckets(buckets: tuple[float, ...]) -> None:
    """Buckets must be non-empty, finite and strictly increasing."""
    with pytest.raises(ValueError):
        Distribution("x", event="operation", measurement="ms", buckets=buckets)


def test_unknown_row_field_is_rejected() -> None:
    """A measurement must be a Row column."""
    with pytest.raises(ValueError, match="no such row field"):
        Sum("x", event="operation", measurement="nope")


@pytest.mark.parametrize("name", ["le", "bad-name", "__x", "1a"])
def test_bad_tag_names_are_rejected(name: str) -> None:
    """Tag names must be legal, non-reserved Prometheus label names."""
    with pytest.raises(ValueError):
        Tag(name, ("name",))


def test_tag_fields_must_be_row_columns() -> None:
    """A tag reads existing Row columns."""
    with pytest.raises(ValueError, match="no such row fields"):
        Tag("x", ("nope",))


def test_duplicate_tag_names_are_rejected() -> None:
    """A definition cannot have two tags of one name."""
    with pytest.raises(ValueError, match="duplicate"):
        Counter("x", event="operation", tags=(Tag("a", ("name",)), Tag("a", ("page",))))


def test_definitions_are_immutable() -> None:
    """Definitions are frozen values."""
    with pytest.raises(AttributeError):
        METRICS[0].name = "changed"  # type: ignore[misc]

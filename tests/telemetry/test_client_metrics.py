"""Tests for wasmwatch.telemetry.client_metrics."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from wasmwatch.store.schema import Row
from wasmwatch.telemetry.client_metrics import ClientMetrics, prometheus_name
from wasmwatch.telemetry.definitions import METRICS, Counter, Summary, Tag
from wasmwatch.telemetry.exposition import render

from .helpers import make_row, sample, scrape

BOUNDS = ("0.01", "0.05", "0.1", "0.5", "1.0", "5.0", "+Inf")


def observed(
    registry: CollectorRegistry, rows: list[Row], max_tag_values: int = 50
) -> ClientMetrics:
    """ClientMetrics on ``registry`` after observing ``rows``."""
    metrics = ClientMetrics(registry, max_tag_values=max_tag_values)
    metrics.observe(rows)
    return metrics


def test_prometheus_names() -> None:
    """Names are legal, carry a unit suffix, and counters end in _total."""
    assert {prometheus_name(m) for m in METRICS} == {
        "wasm_bundle_load_duration_seconds",
        "wasm_runtime_init_duration_seconds",
        "wasm_operations_total",
        "wasm_operations_duration_seconds",
        "wasm_memory_heap_usage_bytes",
        "wasm_errors_total",
        "offline_operations_total",
        "offline_sync_duration_seconds",
        "engagement_time_on_page_seconds_total",
    }


def test_metrics_are_exposed_before_any_row(registry: CollectorRegistry) -> None:
    """Every family has HELP and TYPE lines from the start."""
    ClientMetrics(registry)
    text = render(registry)[0].decode()
    assert "# TYPE wasm_operations_duration_seconds histogram" in text
    assert "# TYPE engagement_time_on_page_seconds_total counter" in text
    assert "# TYPE wasm_memory_heap_usage_bytes gauge" in text


def test_bundle_load_summary_by_release_browser_connection(registry: CollectorRegistry) -> None:
    """Bundle loads give count, sum and buckets per release, browser and connection."""
    tags = {"release": "1.2", "browser": "Chrome", "connection": "4g"}
    observed(registry, [make_row("bundle_load", ms=ms, **tags) for ms in (120.0, 480.0, 2500.0)])
    s = scrape(registry)
    assert sample(s, "wasm_bundle_load_duration_seconds_count", **tags) == 3
    assert sample(s, "wasm_bundle_load_duration_seconds_sum", **tags) == 3.1
    assert sample(s, "wasm_bundle_load_duration_seconds_bucket", le="0.5", **tags) == 2
    assert sample(s, "wasm_bundle_load_duration_seconds_bucket", le="2.0", **tags) == 2
    assert sample(s, "wasm_bundle_load_duration_seconds_bucket", le="5.0", **tags) == 3


def test_runtime_init_summary_by_release_and_device(registry: CollectorRegistry) -> None:
    """Runtime init times are summarised per release and device."""
    observed(registry, [make_row("runtime_init", ms=300.0, release="1", device="mobile")])
    s = scrape(registry)
    assert sample(s, "wasm_runtime_init_duration_seconds_count", release="1", device="mobile") == 1


def test_operations_counted_by_operation_and_offline(registry: CollectorRegistry) -> None:
    """Operations are counted per name and offline flag."""
    rows = [
        make_row("operation", name="save", ms=1.0, offline=False),
        make_row("operation", name="save", ms=1.0, offline=False),
        make_row("operation", name="save", ms=1.0, offline=True),
        make_row("operation", name="load", ms=1.0, offline=False),
    ]
    observed(registry, rows)
    s = scrape(registry)
    assert sample(s, "wasm_operations_total", operation="save", offline="false") == 2
    assert sample(s, "wasm_operations_total", operation="save", offline="true") == 1
    assert sample(s, "wasm_operations_total", operation="load", offline="false") == 1


def test_operation_duration_buckets(registry: CollectorRegistry) -> None:
    """Operation durations fill the 10/50/100/500/1000/5000 ms buckets (in seconds) cumulatively."""
    durations = [5.0, 10.0, 30.0, 75.0, 100.0, 700.0, 999.0, 4000.0, 9000.0]
    observed(registry, [make_row("operation", name="op", ms=ms) for ms in durations])
    s = scrape(registry)
    buckets = [sample(s, "wasm_operations_duration_seconds_bucket", operation="op", le=le)
               for le in BOUNDS]
    assert buckets == [2, 3, 5, 5, 7, 8, 9]
    assert sample(s, "wasm_operations_duration_seconds_count", operation="op") == 9
    assert sample(s, "wasm_operations_duration_seconds_sum", operation="op") == pytest.approx(sum(durations) / 1000)
    assert ("wasm_operations_duration_seconds_bucket", frozenset(
        {("operation", "op"), ("le", "0.025")})) not in s


def test_heap_usage_is_the_last_value(registry: CollectorRegistry) -> None:
    """The heap gauge holds the last stored memory value."""
    metrics = observed(registry, [make_row("memory", value=1e6), make_row("memory", value=3e6)])
    assert sample(scrape(registry), "wasm_memory_heap_usage_bytes") == 3e6
    metrics.observe([make_row("memory", value=2e6)])
    assert sample(scrape(registry), "wasm_memory_heap_usage_bytes") == 2e6


def test_errors_counted_by_category_and_operation(registry: CollectorRegistry) -> None:
    """Errors are counted per category and operation; missing operation is unknown."""
    observed(registry, [
        make_row("error", category="runtime", name="save", kind="unreachable"),
        make_row("error", category="critical", kind="TypeError"),
    ])
    s = scrape(registry)
    assert sample(s, "wasm_errors_total", category="runtime", operation="save") == 1
    assert sample(s, "wasm_errors_total", category="critical", operation="unknown") == 1


def test_offline_operations_pending_then_synced(registry: CollectorRegistry) -> None:
    """Offline operations count as pending; sync reports add synced or failed operations."""
    observed(registry, [
        make_row("operation", name="save", ms=1.0, offline=True),
        make_row("operation", name="save", ms=1.0, offline=False),
        make_row("offline_sync", synced=4, ok=True, ms=80.0),
        make_row("offline_sync", synced=2, ok=False, ms=20.0),
    ])
    s = scrape(registry)
    assert sample(s, "offline_operations_total", operation="save", sync_status="pending") == 1
    assert sample(s, "offline_operations_total", operation="unknown", sync_status="synced") == 4
    assert sample(s, "offline_operations_total", operation="unknown", sync_status="failed") == 2
    assert sample(s, "offline_sync_duration_seconds_count") == 2
    assert sample(s, "offline_sync_duration_seconds_sum") == 0.1


def test_time_on_page_counts_visible_ms(registry: CollectorRegistry) -> None:
    """Engagement adds visible time (ms, exported in seconds) per page and connection mode."""
    observed(registry, [
        make_row("engagement", ms=1500.0, name="/posts", offline=False),
        make_row("engagement", ms=500.0, name="/posts", offline=False),
        make_row("engagement", ms=700.0, page="/about", offline=True),
    ])
    s = scrape(registry)
    name = "engagement_time_on_page_seconds_total"
    assert sample(s, name, page="/posts", connection_mode="online") == 2.0
    assert sample(s, name, page="/about", connection_mode="offline") == 0.7


def test_observe_accumulates_across_batches(registry: CollectorRegistry) -> None:
    """Counters and histograms add up over successive observe() calls."""
    metrics = observed(registry, [make_row("operation", name="op", ms=20.0)])
    metrics.observe([make_row("operation", name="op", ms=20.0)])
    s = scrape(registry)
    assert sample(s, "wasm_operations_total", operation="op", offline="unknown") == 2
    assert sample(s, "wasm_operations_duration_seconds_bucket", operation="op", le="0.05") == 2


def test_rows_without_definitions_are_ignored(registry: CollectorRegistry) -> None:
    """Feature and measurement rows feed none of the nine metrics."""
    observed(registry, [make_row("feature", name="x"), make_row("measurement", value=1.0)])
    assert scrape(registry) == {}


def test_null_measurements_are_skipped(registry: CollectorRegistry) -> None:
    """A row without the measured column adds nothing to histograms."""
    observed(registry, [make_row("offline_sync", synced=1, ok=True)])
    assert ("offline_sync_duration_seconds_count", frozenset()) not in scrape(registry)


def test_tag_values_are_capped_with_overflow_to_other(registry: CollectorRegistry) -> None:
    """Past max_tag_values distinct values, new values are reported as other."""
    metrics = observed(registry, [make_row("operation", name=f"op{i}", ms=1.0) for i in range(5)],
                       max_tag_values=3)
    metrics.observe([make_row("operation", name="op1", ms=1.0),
                     make_row("operation", name="op9", ms=1.0)])
    s = scrape(registry)
    ops = {dict(labels)["operation"]: v for (name, labels), v in s.items()
           if name == "wasm_operations_duration_seconds_count"}
    assert ops == {"op0": 1, "op1": 2, "op2": 1, "other": 3}


def test_caps_are_per_tag(registry: CollectorRegistry) -> None:
    """Each tag has its own cap; a full tag does not cap another."""
    observed(registry, [make_row("error", category="runtime", name=f"op{i}") for i in range(3)]
             + [make_row("error", category=c, name="op0") for c in ("critical", "application")],
             max_tag_values=2)
    s = scrape(registry)
    categories = {dict(labels)["category"] for (name, labels) in s if name == "wasm_errors_total"}
    assert categories == {"runtime", "critical", "other"}
    assert sample(s, "wasm_errors_total", category="runtime", operation="other") == 1


def test_long_tag_values_are_cut(registry: CollectorRegistry) -> None:
    """Label values are cut at 128 characters."""
    observed(registry, [make_row("operation", name="x" * 500, ms=1.0)])
    s = scrape(registry)
    assert sample(s, "wasm_operations_duration_seconds_count", operation="x" * 128) == 1


def test_observe_never_raises(
    registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing definition is logged; observe() returns normally."""
    def broken(row: Row) -> bool:
        raise RuntimeError("bug")

    metrics = ClientMetrics(registry, [Counter("x.total", event="operation", keep=broken)])
    with caplog.at_level(logging.ERROR):
        metrics.observe([make_row("operation", name="op", ms=1.0)])
    assert "could not observe 1 rows" in caplog.text


def test_definitions_sharing_a_name_must_agree() -> None:
    """Two definitions of one metric with different tags are rejected."""
    with pytest.raises(ValueError, match="disagree"):
        ClientMetrics(None, [
            Counter("x.total", event="operation"),
            Counter("x.total", event="error", tags=(Tag("kind", ("kind",)),)),
        ])


def test_registering_twice_is_refused(registry: CollectorRegistry) -> None:
    """The registry sees the metric names and refuses duplicates."""
    ClientMetrics(registry)
    with pytest.raises(ValueError, match="Duplicated"):
        ClientMetrics(registry)


def test_collect_returns_a_snapshot() -> None:
    """Families collected earlier do not change when more rows arrive."""
    metrics = ClientMetrics(None, [Summary("s", event="operation", measurement="ms")])
    metrics.observe([make_row("operation", ms=1.0)])
    (family,) = metrics.collect()
    before = [s.value for s in family.samples]
    metrics.observe([make_row("operation", ms=1.0)])
    assert [s.value for s in family.samples] == before

"""Tests for wasmwatch.telemetry.server_metrics."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry

from wasmwatch.telemetry import events
from wasmwatch.telemetry.bus import Bus
from wasmwatch.telemetry.server_metrics import (
    ServerMetrics,
    attach_server_metrics,
    detach_server_metrics,
)

from .helpers import sample, scrape


class FakeClock:
    """A clock advancing by ``step`` on each read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def depth() -> list[int]:
    """The queue depth the gauge reads, settable by tests."""
    return [7]


@pytest.fixture
def metrics(bus: Bus, registry: CollectorRegistry, depth: list[int]) -> ServerMetrics:
    """Server metrics attached to a fresh bus and registry."""
    return attach_server_metrics(bus, registry, lambda: depth[0])


def test_http_request_span_is_observed(registry: CollectorRegistry) -> None:
    """A request span's duration lands in its route, method and status series."""
    bus = Bus(clock=FakeClock(0.02))
    attach_server_metrics(bus, registry, lambda: 0)
    with bus.span(events.HTTP_REQUEST, {"route": "/api/v1/ingest", "method": "POST"}) as span:
        span.set(status=200)
    s = scrape(registry)
    labels = {"route": "/api/v1/ingest", "method": "POST", "status": "200"}
    assert sample(s, "wasmwatch_http_request_duration_seconds_count", **labels) == 1
    assert sample(s, "wasmwatch_http_request_duration_seconds_sum", **labels) == pytest.approx(0.02)
    assert sample(s, "wasmwatch_http_request_duration_seconds_bucket", le="0.01", **labels) == 0
    assert sample(s, "wasmwatch_http_request_duration_seconds_bucket", le="0.025", **labels) == 1


def test_http_span_through_the_default_clock(
    bus: Bus, metrics: ServerMetrics, registry: CollectorRegistry
) -> None:
    """A span timed by the real clock feeds the request histogram."""
    with bus.span(events.HTTP_REQUEST, {"route": "/healthz", "method": "GET"}) as s:
        s.set(status=204)
    s_ = scrape(registry)
    labels = {"route": "/healthz", "method": "GET", "status": "204"}
    assert sample(s_, "wasmwatch_http_request_duration_seconds_count", **labels) == 1


def test_http_exception_counts_as_500(
    bus: Bus, metrics: ServerMetrics, registry: CollectorRegistry
) -> None:
    """A request that raised is observed with status 500."""
    with pytest.raises(RuntimeError), bus.span(
        events.HTTP_REQUEST, {"route": "/x", "method": "GET"}
    ):
        raise RuntimeError("boom")
    s = scrape(registry)
    count = sample(s, "wasmwatch_http_request_duration_seconds_count",
                   route="/x", method="GET", status="500")
    assert count == 1


def test_commit_stop_feeds_latency_and_batch_size(
    bus: Bus, metrics: ServerMetrics, registry: CollectorRegistry
) -> None:
    """A commit's duration, items and requests are observed."""
    bus.execute((*events.STORE_COMMIT, "stop"),
                {"duration": 0.004, "items": 3000, "duplicates": 2, "requests": 12})
    s = scrape(registry)
    assert sample(s, "wasmwatch_store_commit_duration_seconds_sum") == 0.004
    assert sample(s, "wasmwatch_store_commit_items_sum") == 3000
    assert sample(s, "wasmwatch_store_commit_items_bucket", le="2500.0") == 0
    assert sample(s, "wasmwatch_store_commit_items_bucket", le="5000.0") == 1
    assert sample(s, "wasmwatch_store_commit_requests_sum") == 12


def test_commit_requests_may_come_as_span_metadata(
    bus: Bus, metrics: ServerMetrics, registry: CollectorRegistry
) -> None:
    """A commit span started with requests in its metadata still records them."""
    with bus.span(events.STORE_COMMIT, {"requests": 3}) as span:
        span.measure(items=10, duplicates=0)
    s = scrape(registry)
    assert sample(s, "wasmwatch_store_commit_requests_sum") == 3
    assert sample(s, "wasmwatch_store_commit_items_sum") == 10


def test_commit_exception_counts_a_failure(
    bus: Bus, metrics: ServerMetrics, registry: CollectorRegistry
) -> None:
    """A commit that raised is counted as a failure."""
    with pytest.raises(OSError), bus.span(events.STORE_COMMIT):
        raise OSError("disk full")
    assert sample(scrape(registry), "wasmwatch_store_commit_failures_total") == 1


def test_every_loss_reason_is_exported_at_zero(
    metrics: ServerMetrics, registry: CollectorRegistry
) -> None:
    """All server loss reasons appear on /metrics before any loss."""
    s = scrape(registry)
    for reason in events.LOSS_REASONS:
        assert sample(s, "wasmwatch_items_lost_total", reason=reason) == 0


def test_accepted_lost_and_client_lost_are_counted(
    bus: Bus, metrics: ServerMetrics, registry: CollectorRegistry
) -> None:
    """Ingest events add to accepted, lost and client-lost counters."""
    bus.execute(events.INGEST_ACCEPTED, {"count": 10}, {"project": "default"})
    bus.execute(events.INGEST_ACCEPTED, {"count": 5}, {"project": "default"})
    bus.execute(events.INGEST_LOST, {"count": 3}, {"reason": "invalid"})
    bus.execute(events.INGEST_LOST, {"count": 1}, {"reason": "queue_full"})
    bus.execute(events.INGEST_CLIENT_LOST, {"count": 4}, {"reason": "queue_overflow"})
    s = scrape(registry)
    assert sample(s, "wasmwatch_items_accepted_total", project="default") == 15
    assert sample(s, "wasmwatch_items_lost_total", reason="invalid") == 3
    assert sample(s, "wasmwatch_items_lost_total", reason="queue_full") == 1
    assert sample(s, "wasmwatch_client_items_lost_total", reason="queue_overflow") == 4


def test_client_loss_reasons_are_capped(bus: Bus, registry: CollectorRegistry) -> None:
    """Arbitrary client reasons overflow to other past the cap."""
    attach_server_metrics(bus, registry, lambda: 0, max_label_values=2)
    for reason in ("a", "b", "c", "d"):
        bus.execute(events.INGEST_CLIENT_LOST, {"count": 1}, {"reason": reason})
    s = scrape(registry)
    assert sample(s, "wasmwatch_client_items_lost_total", reason="other") == 2


def test_queue_depth_is_read_at_scrape(
    metrics: ServerMetrics, registry: CollectorRegistry, depth: list[int]
) -> None:
    """The queue depth gauge calls the callback on each scrape."""
    assert sample(scrape(registry), "wasmwatch_write_queue_depth") == 7
    depth[0] = 42
    assert sample(scrape(registry), "wasmwatch_write_queue_depth") == 42


def test_failing_queue_depth_callback_does_not_break_scrape(
    bus: Bus, registry: CollectorRegistry
) -> None:
    """A raising callback reports NaN; the scrape still works."""
    def broken() -> int:
        raise RuntimeError("queue gone")

    attach_server_metrics(bus, registry, broken)
    assert math.isnan(sample(scrape(registry), "wasmwatch_write_queue_depth"))


def test_log_drops_are_counted(
    bus: Bus, metrics: ServerMetrics, registry: CollectorRegistry
) -> None:
    """Log overload drops are counted."""
    bus.execute(events.LOG_DROPPED, {"count": 120})
    assert sample(scrape(registry), "wasmwatch_log_records_dropped_total") == 120


def test_detach_stops_feeding(
    bus: Bus, metrics: ServerMetrics, registry: CollectorRegistry
) -> None:
    """After detach_server_metrics the bus no longer feeds the metrics."""
    detach_server_metrics(bus)
    bus.execute(events.INGEST_LOST, {"count": 3}, {"reason": "invalid"})
    assert sample(scrape(registry), "wasmwatch_items_lost_total", reason="invalid") == 0
    assert bus.handlers() == []


def test_remembered_children_keep_the_caps_answers(bus: Bus, registry: CollectorRegistry) -> None:
    """Values seen again (served from the remembered children) land where the cap put them
    the first time: admitted ones under their own label, later ones under other; 200 and
    True are different statuses."""
    attach_server_metrics(bus, registry, lambda: 0, max_label_values=2)
    for _ in range(3):
        for project in ("a", "b", "c"):
            bus.execute(events.INGEST_ACCEPTED, {"count": 1}, {"project": project})
    stop = (*events.HTTP_REQUEST, "stop")
    for status in (200, 200, 404):
        bus.execute(stop, {"duration": 0.001}, {"route": "/r", "method": "GET", "status": status})
    s = scrape(registry)
    assert sample(s, "wasmwatch_items_accepted_total", project="a") == 3
    assert sample(s, "wasmwatch_items_accepted_total", project="b") == 3
    assert sample(s, "wasmwatch_items_accepted_total", project="other") == 3
    count = "wasmwatch_http_request_duration_seconds_count"
    assert sample(s, count, route="/r", method="GET", status="200") == 2
    assert sample(s, count, route="/r", method="GET", status="404") == 1

"""Tests for wasmwatch.telemetry.exposition."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families

from wasmwatch.telemetry.exposition import render


def test_render_gives_prometheus_text(registry: CollectorRegistry) -> None:
    """Without an Accept header the body is the Prometheus text format 0.0.4."""
    Gauge("things", "Things", registry=registry).set(3)
    body, content_type = render(registry)
    assert content_type.startswith("text/plain; version=0.0.4")
    (family,) = text_string_to_metric_families(body.decode())
    assert family.name == "things" and family.samples[0].value == 3


def test_render_gives_openmetrics_when_asked(registry: CollectorRegistry) -> None:
    """An Accept header asking for OpenMetrics gets OpenMetrics."""
    Gauge("things", "Things", registry=registry).set(1)
    body, content_type = render(registry, "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")

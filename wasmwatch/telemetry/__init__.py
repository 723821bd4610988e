"""The server's telemetry: event bus, metric definitions and reporters, poller, logging.

Wiring, once at startup::

    registry = CollectorRegistry()
    logs.configure(settings.log_level, settings.log_levels)
    client = ClientMetrics(registry)                    # after each commit: client.observe(rows)
    attach_server_metrics(default_bus, registry, queue.qsize)
    poller = Poller(registry)                           # task: poller.run(10.0, stop_event)
    body, content_type = render(registry, accept)       # GET /metrics
"""

from __future__ import annotations

from wasmwatch.telemetry import events, logs
from wasmwatch.telemetry.bus import (
    AlreadyAttachedError,
    Attachment,
    Bus,
    Event,
    Handler,
    Measurements,
    Metadata,
    Span,
    attach,
    default_bus,
    detach,
    execute,
    span,
)
from wasmwatch.telemetry.client_metrics import ClientMetrics, prometheus_name
from wasmwatch.telemetry.definitions import (
    METRICS,
    SUMMARY_BUCKETS,
    Counter,
    Distribution,
    LastValue,
    MetricDefinition,
    Sum,
    Summary,
    Tag,
)
from wasmwatch.telemetry.exposition import render
from wasmwatch.telemetry.logs import configure, get_levels, set_levels
from wasmwatch.telemetry.poller import GcTimer, Poller
from wasmwatch.telemetry.server_metrics import (
    ServerMetrics,
    attach_server_metrics,
    detach_server_metrics,
)

__all__ = [
    "METRICS",
    "SUMMARY_BUCKETS",
    "AlreadyAttachedError",
    "Attachment",
    "Bus",
    "ClientMetrics",
    "Counter",
    "Distribution",
    "Event",
    "GcTimer",
    "Handler",
    "LastValue",
    "Measurements",
    "Metadata",
    "MetricDefinition",
    "Poller",
    "ServerMetrics",
    "Span",
    "Sum",
    "Summary",
    "Tag",
    "attach",
    "attach_server_metrics",
    "configure",
    "default_bus",
    "detach",
    "detach_server_metrics",
    "events",
    "execute",
    "get_levels",
    "logs",
    "prometheus_name",
    "render",
    "set_levels",
    "span",
]

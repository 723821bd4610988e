"""Prometheus metrics about the server itself, fed by bus handlers.

:func:`attach_server_metrics` makes the collectors on a registry and attaches one handler per
event family to a bus:

============================================  ===============================================
event                                         metrics
============================================  ===============================================
``wasmwatch.http.request.stop|exception``     ``wasmwatch_http_request_duration_seconds``
                                              {route, method, status}; an exception is 500
``wasmwatch.store.commit.stop``               ``wasmwatch_store_commit_duration_seconds``,
                                              ``wasmwatch_store_commit_items``,
                                              ``wasmwatch_store_commit_requests``
``wasmwatch.store.commit.exception``          ``wasmwatch_store_commit_failures_total``
``wasmwatch.ingest.accepted``                 ``wasmwatch_items_accepted_total`` {project}
``wasmwatch.ingest.lost``                     ``wasmwatch_items_lost_total`` {reason}
``wasmwatch.ingest.client_lost``              ``wasmwatch_client_items_lost_total`` {reason}
``wasmwatch.log.dropped``                     ``wasmwatch_log_records_dropped_total``
(scrape time)                                 ``wasmwatch_write_queue_depth``
============================================  ===============================================

No ``_created`` series are exported (prometheus_client's switch for them is process-wide:
:class:`ServerMetrics` turns it off). Every server-side loss reason is exported from the
start, at zero. Label values not known in
advance are capped like client tags (overflow is ``other``).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, disable_created_metrics
from prometheus_client import Counter as PromCounter
from prometheus_client import Histogram as PromHistogram

from wasmwatch.telemetry._labels import TagCap, format_value
from wasmwatch.telemetry.bus import Bus, Event, Measurements, Metadata
from wasmwatch.telemetry.events import (
    HTTP_REQUEST,
    INGEST_ACCEPTED,
    INGEST_CLIENT_LOST,
    INGEST_LOST,
    LOG_DROPPED,
    LOSS_REASONS,
    STORE_COMMIT,
)

__all__ = ["ServerMetrics", "attach_server_metrics", "detach_server_metrics"]

_log = logging.getLogger(__name__)

_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_ITEMS = (1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000)
_REQUESTS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)


#: children remembered per family; past this, new label sets take the labels() path
_CHILDREN_MAX = 4096


def _known(children: dict[tuple[object, ...], Any], key: tuple[object, ...]) -> Any:
    """The child made for these raw label values (keyed with their types: ``True == 1``)."""
    try:
        return children.get(key)
    except TypeError:  # unhashable metadata: labelled the slow way every time
        return None


def _remember(children: dict[tuple[object, ...], Any], key: tuple[object, ...], child: Any) -> None:
    if len(children) < _CHILDREN_MAX:
        with contextlib.suppress(TypeError):  # unhashable metadata: the slow way every time
            children[key] = child


def _label(metadata: Metadata, key: str, cap: TagCap) -> str:
    value = metadata.get(key)
    return cap("unknown" if value is None else format_value(value))


class ServerMetrics:
    """The server's own collectors and the bus handlers that feed them."""

    def __init__(
        self,
        registry: CollectorRegistry,
        queue_depth: Callable[[], int],
        *,
        max_label_values: int = 50,
    ) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # they double every series
        self._queue_depth = queue_depth
        self._caps = {name: TagCap(max_label_values) for name in (
            "route", "method", "status", "project", "reason", "client_reason")}
        r = registry
        self.http_duration = PromHistogram(
            "wasmwatch_http_request_duration_seconds", "HTTP request duration",
            ["route", "method", "status"], registry=r, buckets=_SECONDS)
        self.commit_duration = PromHistogram(
            "wasmwatch_store_commit_duration_seconds", "Group commit duration",
            registry=r, buckets=_SECONDS)
        self.commit_items = PromHistogram(
            "wasmwatch_store_commit_items", "Items per group commit", registry=r, buckets=_ITEMS)
        self.commit_requests = PromHistogram(
            "wasmwatch_store_commit_requests", "Ingest requests per group commit",
            registry=r, buckets=_REQUESTS)
        self.commit_failures = PromCounter(
            "wasmwatch_store_commit_failures", "Group commits that raised", registry=r)
        self.accepted = PromCounter(
            "wasmwatch_items_accepted", "Items accepted and stored", ["project"], registry=r)
        self.lost = PromCounter(
            "wasmwatch_items_lost", "Items the server rejected or dropped, by reason",
            ["reason"], registry=r)
        self.client_lost = PromCounter(
            "wasmwatch_client_items_lost", "Items SDKs report they dropped, by reason",
            ["reason"], registry=r)
        self.log_dropped = PromCounter(
            "wasmwatch_log_records_dropped", "Log records dropped by overload protection",
            registry=r)
        self.queue_depth = Gauge(
            "wasmwatch_write_queue_depth", "Items waiting in the write queue", registry=r)
        self.queue_depth.set_function(self._read_queue_depth)
        for reason in LOSS_REASONS:
            self.lost.labels(reason=self._caps["reason"](reason))
        # labelled children by the raw metadata they were made from, so a request does not
        # pay for labels() (a lock, a tuple, the caps): the caps' answer for a value never
        # changes once given, so a child made for it stays the right one
        self._http_children: dict[tuple[object, ...], Any] = {}
        self._ingest_children: dict[tuple[object, ...], Any] = {}

    def _read_queue_depth(self) -> float:
        try:
            return float(self._queue_depth())
        except Exception:
            _log.warning("write queue depth callback failed", exc_info=True)
            return math.nan

    def on_http(self, event: Event, m: Measurements, meta: Metadata, _config: Any) -> None:
        """An HTTP request finished (stop) or raised (exception, counted as 500)."""
        failed = event[-1] == "exception"
        status_ = None if failed else meta.get("status")
        key = (meta.get("route"), meta.get("method"), status_, type(status_))
        child = _known(self._http_children, key)
        if child is None:
            status = "500" if failed else _label(meta, "status", self._caps["status"])
            child = self.http_duration.labels(
                route=_label(meta, "route", self._caps["route"]),
                method=_label(meta, "method", self._caps["method"]),
                status=status,
            )
            _remember(self._http_children, key, child)
        child.observe(m["duration"])

    def on_commit(self, event: Event, m: Measurements, meta: Metadata, _config: Any) -> None:
        """A group commit finished or raised; ``requests`` may be a measurement or metadata."""
        if event[-1] == "exception":
            self.commit_failures.inc()
            return
        requests = m.get("requests", meta.get("requests", 0))
        self.commit_duration.observe(m["duration"])
        self.commit_items.observe(m.get("items", 0))
        self.commit_requests.observe(requests if isinstance(requests, int | float) else 0)

    def on_ingest(self, event: Event, m: Measurements, meta: Metadata, _config: Any) -> None:
        """Items accepted, lost by the server, or reported lost by a client."""
        count = m.get("count", 0)
        if count <= 0:
            return
        name = event[-1]
        value = meta.get("project" if name == "accepted" else "reason")
        key = (name, value, type(value))
        child = _known(self._ingest_children, key)
        if child is None:
            if name == "accepted":
                child = self.accepted.labels(project=_label(meta, "project", self._caps["project"]))
            elif name == "lost":
                child = self.lost.labels(reason=_label(meta, "reason", self._caps["reason"]))
            else:
                child = self.client_lost.labels(
                    reason=_label(meta, "reason", self._caps["client_reason"]))
            _remember(self._ingest_children, key, child)
        child.inc(count)

    def on_log_dropped(self, _e: Event, m: Measurements, _meta: Metadata, _config: Any) -> None:
        """The log handler dropped records over its rate limit."""
        self.log_dropped.inc(m.get("count", 0))


def attach_server_metrics(
    bus: Bus,
    registry: CollectorRegistry,
    queue_depth: Callable[[], int],
    *,
    max_label_values: int = 50,
    handler_prefix: str = "wasmwatch.server_metrics",
) -> ServerMetrics:
    """Create the server collectors on ``registry`` and attach their handlers to ``bus``."""
    metrics = ServerMetrics(registry, queue_depth, max_label_values=max_label_values)
    p = handler_prefix
    bus.attach(f"{p}.http", [(*HTTP_REQUEST, "stop"), (*HTTP_REQUEST, "exception")],
               metrics.on_http)
    bus.attach(f"{p}.commit", [(*STORE_COMMIT, "stop"), (*STORE_COMMIT, "exception")],
               metrics.on_commit)
    bus.attach(f"{p}.ingest", [INGEST_ACCEPTED, INGEST_LOST, INGEST_CLIENT_LOST],
               metrics.on_ingest)
    bus.attach(f"{p}.log", [LOG_DROPPED], metrics.on_log_dropped)
    return metrics


def detach_server_metrics(bus: Bus, handler_prefix: str = "wasmwatch.server_metrics") -> None:
    """Detach the handlers :func:`attach_server_metrics` attached."""
    for suffix in ("http", "commit", "ingest", "log"):
        bus.detach(f"{handler_prefix}.{suffix}")

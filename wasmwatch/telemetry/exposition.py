"""The body of ``GET /metrics``: a registry in the Prometheus text format (or OpenMetrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

__all__ = ["render"]


def render(registry: CollectorRegistry, accept: str | None = None) -> tuple[bytes, str]:
    """``(body, content_type)`` for the request's ``Accept`` header.

    Prometheus text (0.0.4) unless ``accept`` asks for ``application/openmetrics-text``.
    """
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type

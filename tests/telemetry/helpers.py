"""Helpers for telemetry tests: synthetic rows and parsed exposition text."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from wasmwatch.store.schema import Row
from wasmwatch.telemetry.exposition import render

_ids = itertools.count()

MakeRow = Callable[..., Row]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def make_row(type: str, **fields: Any) -> Row:
    """A stored row of ``type`` with required columns filled in."""
    n = next(_ids)
    base: dict[str, Any] = {
        "id": f"i{n}", "project": "default", "ts": n, "client_ts": n, "received": n,
    }
    return Row(type=type, **(base | fields))


def scrape(registry: CollectorRegistry) -> Samples:
    """Every sample of the registry's exposition text, by name and labels."""
    body, _ = render(registry)
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; KeyError when absent. Client metrics carry a ``project`` label:
    ``default`` unless given (``project=""`` for metrics without it)."""
    if name.startswith(("wasm_", "offline_", "engagement_")):
        labels.setdefault("project", "default")
    labels = {k: v for k, v in labels.items() if v != "" or k != "project"}
    return samples[(name, frozenset(labels.items()))]

"""Helpers for alerting tests: rows, rules and a silencer that silences nothing."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from wasmwatch.store.schema import Row

NOW = 1_764_000_000_000
_ids = itertools.count()


def row(type_: str = "operation", ts: int = NOW, **fields: Any) -> Row:
    base: dict[str, Any] = {"id": f"r{next(_ids)}", "project": "default", "type": type_, "ts": ts,
                            "client_ts": ts, "received": ts, "release": "1.0.0"}
    if type_ == "operation":
        base.update(name="render", ms=10.0, ok=True)
    return Row(**{**base, **fields})


def never(labels: Mapping[str, str], now_ms: int) -> bool:
    return False

"""Helpers for alerting tests: rows, rules and a silencer that silences nothing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pytest

from tests.alerts.receivers import WebhookReceiver
from wasmwatch.store import layout
from wasmwatch.store.schema import COLUMNS, Row

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


def duckdb_of(tmp_path: Path, rows: Sequence[Row]) -> duckdb.DuckDBPyConnection:
    """A real DuckDB file in the stored layout holding ``rows`` (loaded as the store loads
    history: a wide table into ``layout.load_wide``)."""
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    for ddl in (*layout.tables(), layout.view()):
        con.execute(ddl)
    path = tmp_path / "rows.json"
    path.write_bytes(msgspec.json.encode(rows))
    columns = "{" + ", ".join(f"'{n}': '{t}'" for n, t in COLUMNS.items()) + "}"
    con.execute(f"CREATE TEMP TABLE wide AS SELECT * FROM read_json('{path}', columns={columns})")
    layout.load_wide(con, "wide")
    return con


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A real webhook receiver on loopback, stopped after the test."""
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()

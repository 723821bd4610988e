"""The commit hooks' columnar path gives what their row path gives, on random mixed rows."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa

from wasmwatch.alerts.evaluate import COLUMNS as ALERT_COLUMNS
from wasmwatch.alerts.evaluate import Evaluator
from wasmwatch.alerts.rules import DEFAULT_RULES, Rule
from wasmwatch.ingest import schema as s
from wasmwatch.ingest.columnar import Chunk, Prepared
from wasmwatch.store.layout import batch_context
from wasmwatch.store.schema import rows_of
from wasmwatch.telemetry.client_metrics import ClientMetrics

NOW = 1_764_000_000_000
OPS = ["render", "parse", "save"]


def _items(rng: random.Random, n: int) -> list[s.Item]:
    out: list[s.Item] = []
    for i in range(n):
        ts, kind = float(NOW - rng.randint(0, 600_000)), rng.choice("oeombf")
        if kind == "o":
            out.append(s.Operation(id=f"o{i}", ts=ts, name=rng.choice(OPS), ms=rng.random() * 2000,
                                   ok=rng.random() > 0.1, offline=rng.random() < 0.3))
        elif kind == "e":
            out.append(s.Error(id=f"e{i}", ts=ts, kind="TypeError", message="x",
                               category=rng.choice(["critical", "runtime", "application"]),
                               operation=rng.choice([*OPS, None])))
        elif kind == "m":
            out.append(s.Memory(id=f"m{i}", ts=ts, wasm_bytes=rng.randint(1, 40) << 20))
        elif kind == "b":
            out.append(s.BundleLoad(id=f"b{i}", ts=ts, total_ms=rng.random() * 9000,
                                    cached=rng.random() < 0.5))
        elif kind == "f":
            out.append(s.Feature(id=f"f{i}", ts=ts, name=rng.choice(["a", "b"])))
        else:
            out.append(s.OfflineSync(id=f"s{i}", ts=ts, synced=3, pending=rng.randint(0, 300)))
    return out


def _table(seed: int, n: int = 600) -> pa.Table:
    rng = random.Random(seed)
    chunks = [Chunk(batch_context("default", NOW, session="s", release=rel, page="/",
                                  connection="wifi", device="desktop", browser="Chrome",
                                  browser_major=120, os="Linux", online=True, sdk="t"),
                    _items(rng, n // 3), 10) for rel in ("1.0", "1.1", "2.0")]
    columns = tuple(dict.fromkeys((*ClientMetrics().columns, *ALERT_COLUMNS)))
    return Prepared(chunks).rows(1, None, columns)


def _readings(evaluator: Evaluator) -> list[Any]:
    return sorted((x.rule.name, x.labels, round(x.value or 0.0, 9), x.samples, x.breach)
                  for x in evaluator.evaluate(NOW))


def test_alert_windows_from_arrow_equal_windows_from_rows() -> None:
    """Every rule's reading after observe_table equals its reading after observe."""
    grouped = Rule(name="by_release_op", kind="threshold", metric="operation", stat="p95",
                   op=">", threshold=100.0, window_ms=300_000, group_by=("release", "operation"),
                   where=(("operation", "render"),))
    for seed in range(3):
        table = _table(seed)
        by_rows, by_table = Evaluator((*DEFAULT_RULES, grouped)), Evaluator((*DEFAULT_RULES, grouped))
        hits_rows = by_rows.observe(rows_of(table), NOW)
        hits_table = by_table.observe_table(table, NOW)
        assert _readings(by_rows) == _readings(by_table)
        assert sorted(h.labels for h in hits_rows) == sorted(h.labels for h in hits_table)


def test_client_metrics_from_arrow_equal_metrics_from_rows() -> None:
    """Every series of every client metric is the same whether fed rows or an Arrow table."""
    table = _table(7)
    by_rows, by_table = ClientMetrics(), ClientMetrics()
    by_rows.observe(rows_of(table))
    by_table.observe(table)
    for name, family in by_rows._families.items():
        other = by_table._families[name].series
        assert set(family.series) == set(other), name
        for labels, value in family.series.items():
            if hasattr(value, "cumulative"):
                assert (value.cumulative, value.count) == (other[labels].cumulative,
                                                            other[labels].count), (name, labels)
                assert abs(value.total - other[labels].total) < 1e-6
            else:
                assert abs(value - other[labels]) < 1e-9, (name, labels)

"""Alert rules on the app server's routes, as on client operations."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.alerts.conftest import NOW, duckdb_of, row
from wasmwatch.alerts.evaluate import Evaluator
from wasmwatch.alerts.rules import parse_rule
from wasmwatch.alerts.source import DuckDBSource, MemorySource
from wasmwatch.errors import ConfigError
from wasmwatch.store.schema import Row


def req(route: str, ms: float, ts: int = NOW, service: str = "api") -> Row:
    return row("server_request", ts=ts, name=route, method="GET", status=200, ms=ms, ok=True,
               service=service)


SLOW = {"name": "slow_route", "kind": "threshold", "metric": "server_request", "stat": "p95",
        "threshold": 500.0, "min_samples": 5, "group_by": ["route"], "where": {"service": "api"}}


def test_threshold_by_route() -> None:
    """A server_request p95 rule reads one value per route; only the slow route breaches."""
    ev = Evaluator([parse_rule(SLOW, {})])
    ev.observe([req("/slow/{id}", 900.0) for _ in range(5)] + [req("/fast", 5.0) for _ in range(5)]
               + [req("/slow/{id}", 900.0, service="other") for _ in range(5)], NOW)
    got = {s.labels: s for s in ev.evaluate(NOW)}
    assert got[(("route", "/slow/{id}"),)].breach and got[(("route", "/slow/{id}"),)].samples == 5
    assert not got[(("route", "/fast"),)].breach


def test_regression_by_route() -> None:
    """A route whose recent mean is 2x its baseline breaches a regression rule."""
    rule = parse_rule({"name": "route_regression", "kind": "regression", "metric": "server_request",
                       "stat": "avg", "threshold": 1.5, "window": "5m", "baseline": "1h",
                       "min_samples": 10, "group_by": ["route"]}, {})
    ev = Evaluator([rule])
    for k in range(30):
        ts = NOW - 3_000_000 + k * 60_000
        ev.observe([req("/api/save", 100.0, ts=ts)], ts)
    ev.observe([req("/api/save", 200.0, ts=NOW - 1000) for _ in range(20)], NOW)
    (sample,) = ev.evaluate(NOW)
    assert sample.labels == (("route", "/api/save"),) and sample.breach


def test_backfill_from_duckdb_matches_the_live_feed(tmp_path: Path) -> None:
    """Windows refilled from a DuckDB file read the same per route as the live feed."""
    rows = [req(f"/r{k % 3}", float(100 * (k % 3) + k), ts=NOW - k * 1000) for k in range(30)]
    con = duckdb_of(tmp_path, rows)
    rules = [parse_rule({**SLOW, "stat": "avg", "threshold": 150.0}, {})]
    live = Evaluator(rules)
    live.observe(rows, NOW)
    want = {s.labels: (s.value, s.samples, s.breach) for s in live.evaluate(NOW)}
    assert len(want) == 3
    for source in (DuckDBSource(lambda: con), MemorySource(rows)):
        filled = Evaluator(rules)
        assert filled.backfill(source, "default", NOW) > 0
        got = {s.labels: (s.value, s.samples, s.breach) for s in filled.evaluate(NOW)}
        assert got.keys() == want.keys()
        for key, (value, samples, breach) in want.items():
            assert got[key][1:] == (samples, breach)
            assert abs((got[key][0] or 0) - (value or 0)) < 1e-6


def test_route_label_is_refused_on_client_metrics() -> None:
    """group_by route on a client metric is a config error naming the label."""
    with pytest.raises(ConfigError, match="route is a label of server_request"):
        parse_rule({"name": "x", "kind": "threshold", "metric": "operation", "threshold": 1.0,
                    "group_by": ["route"]}, {})


def test_columnar_feed_reads_routes_like_rows() -> None:
    """An Arrow commit table (the commit hook's fast path) gives the same per-route readings."""
    import pyarrow as pa

    from wasmwatch.alerts.evaluate import COLUMNS as READ

    rows = [req(f"/r{k % 2}", float(400 + 300 * (k % 2)), ts=NOW - k) for k in range(20)]
    table = pa.table({c: [getattr(r, c) for r in rows] for c in READ})
    by_rows, by_table = Evaluator([parse_rule(SLOW, {})]), Evaluator([parse_rule(SLOW, {})])
    by_rows.observe(rows, NOW)
    by_table.observe_table(table, NOW)
    want = {s.labels: (s.value, s.samples, s.breach) for s in by_rows.evaluate(NOW)}
    got = {s.labels: (s.value, s.samples, s.breach) for s in by_table.evaluate(NOW)}
    assert want == got and want[(("route", "/r1"),)][2] and not want[(("route", "/r0"),)][2]

"""Every rule kind over incremental windows, with time passed in."""

from __future__ import annotations

from pathlib import Path

from tests.alerts.conftest import NOW, duckdb_of, row
from wasmwatch.alerts.evaluate import Evaluator, Sample
from wasmwatch.alerts.rules import load_rules, parse_rule
from wasmwatch.alerts.source import DuckDBSource, MemorySource


def rule(**table: object):  # type: ignore[no-untyped-def]
    return parse_rule({"name": "r", **table}, {})


def readings(ev: Evaluator, now: int) -> dict[tuple[tuple[str, str], ...], Sample]:
    return {s.labels: s for s in ev.evaluate(now)}


def test_threshold_p95_needs_min_samples() -> None:
    """One slow operation does not breach; twenty do."""
    ev = Evaluator([rule(kind="threshold", metric="operation", stat="p95", threshold=1000)])
    ev.observe([row(ms=5000.0)], NOW)
    (sample,) = ev.evaluate(NOW)
    assert sample.value is not None and sample.value > 1000
    assert not sample.breach
    ev.observe([row(ms=5000.0) for _ in range(19)], NOW)
    (sample,) = ev.evaluate(NOW)
    assert sample.breach and sample.samples == 20


def test_window_slides_and_empties() -> None:
    """Samples older than the window no longer count; an empty series is dropped."""
    ev = Evaluator([rule(kind="threshold", metric="operation", stat="max", threshold=100,
                         window="1m", min_samples=1)])
    ev.observe([row(ms=500.0, ts=NOW)], NOW)
    ev.observe([row(ms=50.0, ts=NOW + 30_000)], NOW + 30_000)
    assert ev.evaluate(NOW + 30_000)[0].value == 500.0
    (late,) = ev.evaluate(NOW + 61_500)
    assert late.value == 50.0 and not late.breach
    assert ev.evaluate(NOW + 200_000) == []


def test_group_by_and_where() -> None:
    """One reading per label set; where filters before anything counts."""
    ev = Evaluator([rule(kind="threshold", metric="operation", stat="avg", threshold=100,
                         min_samples=1, group_by=["operation"], where={"release": "2.0"})])
    ev.observe([row(name="a", ms=200.0, release="2.0"), row(name="b", ms=10.0, release="2.0"),
                row(name="a", ms=9999.0, release="1.0")], NOW)
    got = readings(ev, NOW)
    assert got[(("operation", "a"),)].value == 200.0
    assert got[(("operation", "a"),)].breach
    assert not got[(("operation", "b"),)].breach


def test_measurement_by_name_and_op_less_than() -> None:
    """measurement:NAME reads that measurement's values; op < compares downwards."""
    ev = Evaluator([rule(kind="threshold", metric="measurement:fps", stat="avg", op="<",
                         threshold=30, min_samples=2)])
    ev.observe([row("measurement", name="fps", value=20.0), row("measurement", name="fps", value=24.0),
                row("measurement", name="other", value=1000.0)], NOW)
    (sample,) = ev.evaluate(NOW)
    assert sample.value == 22.0 and sample.breach


def test_error_rate_is_errors_over_operations() -> None:
    """5 errors over 40 operations is 12.5 %; the denominator respects min_samples."""
    (high,) = [r for r in load_rules([]) if r.name == "high_error_rate"]
    ev = Evaluator([high])
    ev.observe([row() for _ in range(40)] + [row("error", category="runtime") for _ in range(5)], NOW)
    (sample,) = ev.evaluate(NOW)
    assert sample.value == 5 / 40 and sample.samples == 40 and sample.breach
    few = Evaluator([high])
    few.observe([row() for _ in range(5)] + [row("error") for _ in range(5)], NOW)
    assert not few.evaluate(NOW)[0].breach


def test_offline_pending_reads_the_last_count() -> None:
    """offline_backlog: the last reported pending count over 100 breaches."""
    (backlog,) = [r for r in load_rules([]) if r.name == "offline_backlog"]
    ev = Evaluator([backlog])
    ev.observe([row("offline_sync", ts=NOW - 1000, pending=500)], NOW)
    ev.observe([row("offline_sync", ts=NOW, pending=150)], NOW)
    (sample,) = ev.evaluate(NOW)
    assert sample.value == 150 and sample.breach
    ev.observe([row("offline_sync", ts=NOW + 1000, pending=3)], NOW + 1000)
    assert not ev.evaluate(NOW + 1000)[0].breach


def test_regression_compares_recent_mean_with_the_baseline() -> None:
    """Recent mean 1.5x over the baseline window's mean breaches, per operation."""
    r = rule(kind="regression", metric="operation", stat="avg", threshold=1.5, window="5m",
             baseline="1h", min_samples=10, group_by=["operation"])
    ev = Evaluator([r])
    for k in range(30):
        ts = NOW - 3_000_000 + k * 60_000
        ev.observe([row(ts=ts, ms=100.0)], ts)
    now = NOW
    ev.observe([row(ts=now - 1000, ms=200.0) for _ in range(20)], now)
    (sample,) = ev.evaluate(now)
    assert sample.value is not None and abs(sample.value - 2.0) < 0.01
    assert sample.breach
    (later,) = ev.evaluate(now + 400_000)  # the slow ones moved into the baseline
    assert not later.breach


def test_instant_rule_answers_on_arrival() -> None:
    """observe() returns the instant rule's reading for the matching item at once."""
    (critical,) = [r for r in load_rules([]) if r.name == "critical_error"]
    ev = Evaluator([critical])
    assert ev.observe([row("error", category="runtime")], NOW) == []
    (hit,) = ev.observe([row("error", category="critical")], NOW)
    assert hit.breach and hit.value == 1.0


def _rows() -> list:  # type: ignore[type-arg]
    rows = []
    for k in range(300):
        ts = NOW - 280_000 + k * 900
        rows.append(row(ts=ts, ms=float(10 + k % 97), name=f"op{k % 3}", browser="Chrome"))
        if k % 7 == 0:
            rows.append(row("error", ts=ts, name=f"op{k % 3}", category="runtime"))
        if k % 11 == 0:
            rows.append(row("bundle_load", ts=ts, ms=float(k * 20)))
    return rows


def test_backfill_matches_the_live_feed_from_duckdb(tmp_path: Path) -> None:
    """Windows refilled from a real DuckDB file read the same as windows fed row by row."""
    rows = _rows()
    con = duckdb_of(tmp_path, rows)
    rules = load_rules([{"name": "high_operation_latency", "threshold": 50.0}])
    live = Evaluator(rules)
    for r in rows:
        live.observe([r], NOW)
    for source in (DuckDBSource(lambda: con), MemorySource(rows)):
        filled = Evaluator(rules)
        assert filled.backfill(source, "default", NOW) > 0
        want = {(s.rule.name, s.labels): (s.value, s.samples, s.breach) for s in live.evaluate(NOW)}
        got = {(s.rule.name, s.labels): (s.value, s.samples, s.breach) for s in filled.evaluate(NOW)}
        assert got.keys() == want.keys()
        for key, (value, samples, breach) in want.items():
            assert got[key][1:] == (samples, breach), key
            assert got[key][0] == value or abs((got[key][0] or 0) - (value or 0)) < 1e-6, key

"""Rollup answers at their edges: exact counts, future-dated items, rows not yet aggregated."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from tests.query.conftest import HOUR, MINUTE, NOW, PROJECT, op, write
from tests.query.test_summary import TOLERANCE, _mixed, _without_percentiles
from wasmwatch.query import rollup, series, summary
from wasmwatch.store import layout
from wasmwatch.store.schema import COLUMNS

DAY = 24 * HOUR
_ARROW = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(),
          "BOOLEAN": pa.bool_()}
# "now" at awkward places: on the hour, 1 ms past, mid-minute, one ms before a minute ends
NOWS = [NOW, NOW + 1, NOW + 61_234, NOW + 17 * MINUTE + 59_999, NOW + HOUR - 1]


def _stage(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    """Store ``rows`` without aggregating them: committed, not yet in the rollup."""
    table = pa.table({name: pa.array([r.get(name) for r in rows], type=_ARROW[sql])
                      for name, sql in COLUMNS.items()})
    con.register("incoming", table)
    layout.load_wide(con, "incoming")
    con.unregister("incoming")


def _edge_data(seed: int) -> list[dict[str, Any]]:
    """Items crowded around both edges of every window in NOWS, some up to a day ahead."""
    rng = np.random.default_rng(seed)
    return (_mixed(rng, 600, NOW - DAY - 3 * MINUTE, NOW - DAY + HOUR + 3 * MINUTE)
            + _mixed(rng, 1500, NOW - 3 * HOUR, NOW + HOUR + MINUTE)
            + _mixed(rng, 300, NOW + HOUR, NOW + DAY))


@pytest.fixture
def edges(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A store holding :func:`_edge_data`, aggregated in small batches."""
    write(con, _edge_data(11), batch_size=97)
    return con


def _same_counts(con: duckdb.DuckDBPyConnection, now: int, window_s: int) -> None:
    approx = summary(con, project=PROJECT, window_s=window_s, now_ms=now)
    exact = summary(con, project=PROJECT, window_s=window_s, now_ms=now, exact=True)
    assert approx["source"] == "rollup" and exact["source"] == "raw"
    assert (approx["from_ms"], approx["to_ms"]) == (now - window_s * 1000, now)
    assert _without_percentiles(approx) == _without_percentiles(exact)


@pytest.mark.parametrize("now", NOWS)
def test_rollup_counts_equal_exact_counts_at_the_edges(edges: duckdb.DuckDBPyConnection,
                                                       now: int) -> None:
    """Wherever now falls, the 24 h rollup answer counts exactly what a raw scan counts."""
    _same_counts(edges, now, 86_400)
    rollup.compact(edges, NOW + 2 * DAY)
    _same_counts(edges, now, 86_400)


def test_rollup_answer_covers_exactly_the_window(edges: duckdb.DuckDBPyConnection) -> None:
    """A 7 d answer states now - 7 d .. now and counts the same as a raw scan of it."""
    _same_counts(edges, NOW + 61_234, 7 * 86_400)
    got = summary(edges, project=PROJECT, window_s=86_400, now_ms=NOW + 61_234)
    (raw,) = edges.execute("SELECT count(*) FROM items WHERE ts >= ? AND ts <= ?",
                           [NOW + 61_234 - DAY, NOW + 61_234]).fetchone()
    assert sum(got["events"].values()) == raw


def test_future_items_count_only_once_their_time_comes(con: duckdb.DuckDBPyConnection) -> None:
    """Items dated ahead are in no window (raw, rollup or series) until now reaches them."""
    times = (NOW - HOUR, NOW + 30_000, NOW + 30 * MINUTE, NOW + 23 * HOUR)
    write(con, [op("render", 5.0, t) for t in times])
    for now, seen in ((NOW, 1), (NOW + 29_999, 1), (NOW + 30_000, 2), (NOW + 31 * MINUTE, 3),
                      (NOW + 23 * HOUR + 1, 4)):
        for window_s in (300, 3600, 7200, 86_400):  # raw, raw, rollup, rollup
            got = summary(con, project=PROJECT, window_s=window_s, now_ms=now)
            want = sum(1 for t in times if now - window_s * 1000 <= t <= now)
            assert got["operations"].get("render", {"count": 0})["count"] == want, (now, window_s)
        day = series(con, project=PROJECT, metric="operation", window_s=86_400, step_s=3600,
                     now_ms=now)
        assert day["source"] == "rollup"
        assert sum(p["count"] for p in day["points"]) == seen


def test_rows_not_yet_aggregated_are_counted_once(con: duckdb.DuckDBPyConnection) -> None:
    """Committed rows above the rollup's watermark are read raw; once aggregated, not twice."""
    rng = np.random.default_rng(5)
    write(con, _mixed(rng, 800, NOW - DAY, NOW), batch_size=200)
    before = rollup.through_batch(con)
    _stage(con, _mixed(rng, 500, NOW - DAY, NOW))
    assert rollup.through_batch(con) == before
    now = NOW - 12_345
    _same_counts(con, now, 86_400)
    con.execute("CREATE TEMP TABLE late AS SELECT * FROM items WHERE id IN "
                f"(SELECT id FROM ({layout.wide_select(before + 1)}))")
    rollup.apply(con, "late")
    assert rollup.through_batch(con) > before
    _same_counts(con, now, 86_400)


@pytest.mark.parametrize("step_s", [300, 3600])
@pytest.mark.parametrize("now", [NOW + 61_234, NOW + HOUR - 1])
def test_series_counts_equal_exact_at_the_edges(edges: duckdb.DuckDBPyConnection, step_s: int,
                                                now: int) -> None:
    """Every point of a rollup series counts what the raw series counts, last one included."""
    args: dict[str, Any] = {"project": PROJECT, "window_s": 86_400, "step_s": step_s,
                            "now_ms": now}
    for metric in ("operation", "events", "errors"):
        approx = series(edges, metric=metric, **args)
        exact = series(edges, metric=metric, exact=True, **args)
        assert approx["source"] == "rollup"
        assert [p["count"] for p in approx["points"]] == [p["count"] for p in exact["points"]]


@pytest.mark.parametrize("now", [NOW + 61_234, NOW + 17 * MINUTE + 59_999])
def test_rollup_percentiles_within_one_percent_of_numpy(con: duckdb.DuckDBPyConnection,
                                                        now: int) -> None:
    """Percentiles of a rollup window with cut edges are within 1 % of numpy's."""
    rng = np.random.default_rng(now % 1000)
    values = rng.lognormal(3, 1.2, 3000)
    times = rng.integers(now - DAY - 2 * MINUTE, now + 2 * MINUTE, len(values))
    write(con, [op("render", float(v), int(t)) for v, t in zip(values, times, strict=True)],
          batch_size=500)
    inside = values[(times >= now - DAY) & (times <= now)]
    got = summary(con, project=PROJECT, window_s=86_400, now_ms=now)["operations"]["render"]
    assert got["count"] == len(inside)
    for key, q in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)):
        want = float(np.percentile(inside, q))
        assert abs(got[key] - want) <= TOLERANCE * want, (key, got[key], want)

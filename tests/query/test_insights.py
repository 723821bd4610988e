"""Bounce by first load time, cost and engagement over seeded sessions."""

from __future__ import annotations

import duckdb
import pytest

from tests.query.conftest import MINUTE, NOW, PROJECT, op, row, write
from wasmwatch.query.insights import insights


def session(sid: str, load_ms: float, *, ops: int = 0, visible_ms: float | None = None,
            cached: bool = False, offline: bool = False) -> list[dict[str, object]]:
    t = NOW - 30 * MINUTE
    rows = [row("bundle_load", t, session=sid, ms=load_ms, cached=cached,
                transfer_bytes=0 if cached else 2_000_000)]
    rows += [op("render", 5.0, t + 100 + i, session=sid, offline=offline) for i in range(ops)]
    if visible_ms is not None:
        rows.append(row("engagement", t + 5000, session=sid, ms=visible_ms, offline=offline,
                        name="/"))
    return rows


def test_bounce_buckets(con: duckdb.DuckDBPyConnection) -> None:
    """Sessions land in the bucket of their first load; bounced = left early with no operation."""
    write(con, [*session("a", 500, visible_ms=3000), *session("b", 800, ops=2, visible_ms=3000),
                *session("c", 1500, visible_ms=30_000), *session("d", 3000, visible_ms=4000),
                *session("e", 3500, visible_ms=9000), *session("f", 7000),  # f: still open
                *session("g", 9000, visible_ms=1000)])
    b = insights(con, project=PROJECT, window_s=3600, now_ms=NOW)["bounce"]
    assert b["threshold_s"] == 10.0
    buckets = b["buckets"]
    assert buckets["< 1 s"] == {"sessions": 2, "bounced": 1, "undecided": 0, "bounce_rate": 0.5}
    assert buckets["1-2 s"]["bounce_rate"] == 0.0  # 30 s visible is not a bounce
    assert buckets["2-5 s"]["bounced"] == 2
    assert buckets["> 5 s"] == {"sessions": 1, "bounced": 1, "undecided": 1, "bounce_rate": 1.0}
    stricter = insights(con, project=PROJECT, window_s=3600, now_ms=NOW, bounce_threshold_s=5)
    assert stricter["bounce"]["buckets"]["2-5 s"]["bounced"] == 1


def test_cost(con: duckdb.DuckDBPyConnection) -> None:
    """Network bytes at the CDN price; cached loads save the mean network transfer each."""
    write(con, [*session("a", 900, ops=3), *session("b", 900, ops=1),
                *session("c", 100, cached=True, ops=4)])
    c = insights(con, project=PROJECT, window_s=3600, now_ms=NOW, cdn_price_per_gb=0.1,
                 server_cost_per_million_ops=2.0)["cost"]
    assert (c["network_bytes"], c["network_loads"], c["cached_loads"]) == (4_000_000, 2, 1)
    assert c["network_cost"] == pytest.approx(0.0004)
    assert c["cache_saved_bytes"] == 2_000_000
    assert c["client_operations"] == 8
    assert c["server_equivalent_cost"] == pytest.approx(8 / 1e6 * 2.0)


def test_engagement_and_adoption(con: duckdb.DuckDBPyConnection) -> None:
    """Visible time online/offline, feature share of sessions, offline adoption."""
    write(con, [*session("a", 900, ops=1, visible_ms=60_000),
                *session("b", 900, ops=2, visible_ms=20_000, offline=True),
                row("feature", NOW - MINUTE, session="a", name="export", online=True),
                row("feature", NOW - MINUTE, session="b", name="export", online=False),
                row("feature", NOW - MINUTE, session="b", name="share", online=False)])
    e = insights(con, project=PROJECT, window_s=3600, now_ms=NOW)["engagement"]
    assert (e["online_ms"], e["offline_ms"], e["sessions"]) == (60_000, 20_000, 2)
    assert e["offline_sessions"] == 1 and e["offline_adoption"] == 0.5
    assert e["features"]["export"] == {"sessions": 2, "share": 1.0, "offline_sessions": 1}
    assert e["features"]["share"]["share"] == 0.5

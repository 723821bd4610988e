"""Rollup tables: apply, compact, retention and the bucket cover of a window."""

from __future__ import annotations

import itertools

import duckdb
import pytest

from tests.query.conftest import HOUR, MINUTE, NOW, op, row, write
from wasmwatch.query import rollup
from wasmwatch.query.rollup import HOUR as HOUR_TIER
from wasmwatch.query.rollup import MINUTE as MINUTE_TIER
from wasmwatch.query.rollup import Span, whole_buckets

TABLES = [t for tier in rollup.TIERS for t in (tier.table, tier.hist)]


def _count(con: duckdb.DuckDBPyConnection, table: str, where: str = "true") -> int:
    return int(con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])


def _totals(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[object, ...]]:
    return con.execute(
        f"SELECT t, type, name, sum(n), sum(ms_sum), max(ms_max) FROM {table} "
        "GROUP BY ALL ORDER BY ALL").fetchall()


def test_apply_counts_every_item_in_both_tiers(con: duckdb.DuckDBPyConnection) -> None:
    """After apply, each tier's counts per type equal the raw item counts."""
    write(con, [op("render", 5.0, NOW - k * 7_000) for k in range(100)]
          + [row("feature", NOW - 1000, name="export")])
    raw = dict(con.execute("SELECT type, count(*) FROM items GROUP BY type").fetchall())
    for tier in rollup.TIERS:
        got = dict(con.execute(f"SELECT type, sum(n) FROM {tier.table} GROUP BY type").fetchall())
        assert got == raw
        hist = con.execute(f"SELECT sum(n) FROM {tier.hist}").fetchone()[0]
        assert hist == raw["operation"]


def test_apply_buckets_by_minute_and_hour(con: duckdb.DuckDBPyConnection) -> None:
    """Minute rows start on whole minutes, hour rows on whole hours."""
    write(con, [op("render", 5.0, NOW - HOUR - 1), op("render", 5.0, NOW + 61_000)])
    minutes = [t for (t,) in con.execute("SELECT DISTINCT t FROM rollup_minute ORDER BY t").fetchall()]
    hours = [t for (t,) in con.execute("SELECT DISTINCT t FROM rollup_hour ORDER BY t").fetchall()]
    assert minutes == [NOW - HOUR - MINUTE, NOW + MINUTE]
    assert hours == [NOW - 2 * HOUR, NOW]


def test_apply_reads_a_view(con: duckdb.DuckDBPyConnection) -> None:
    """The batch may be a view (the writer's is one over a JSON file)."""
    write(con, [op("render", 5.0, NOW)])
    con.execute("CREATE TEMP VIEW again AS SELECT * FROM items")
    rollup.apply(con, "again")
    assert con.execute("SELECT sum(n) FROM rollup_minute").fetchone()[0] == 2


def test_apply_rejects_a_batch_that_is_not_a_name(con: duckdb.DuckDBPyConnection) -> None:
    """A batch argument that is not a plain identifier is refused, not interpolated."""
    with pytest.raises(ValueError, match="table or view name"):
        rollup.apply(con, "items; DROP TABLE items")


def test_apply_keeps_few_keys_per_minute(con: duckdb.DuckDBPyConnection) -> None:
    """Many items of the same key in one minute make one counter row, not one per item."""
    write(con, [op("render", 1.0 + k % 3, NOW + k, session=f"s{k}", page=f"/p{k}")
                for k in range(500)], batch_size=500)
    assert _count(con, "rollup_minute") == 1
    assert _count(con, "rollup_hist_minute") == 3


def test_compact_merges_duplicate_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Compaction leaves one merged row per key and bucket, with the same totals."""
    write(con, [op("render", float(k), NOW - 10 * MINUTE + k) for k in range(1, 41)],
          batch_size=4)
    before = {t: _totals(con, t) for t in ("rollup_minute", "rollup_hour")}
    assert _count(con, "rollup_minute") == 10
    rollup.compact(con, NOW)
    assert {t: _totals(con, t) for t in before} == before
    for table in TABLES:
        assert _count(con, table, "NOT merged") == 0
    assert _count(con, "rollup_minute") == 1
    assert _count(con, "rollup_hist_minute") == _count(
        con, "(SELECT DISTINCT t, bin FROM rollup_hist_minute)")


def test_compact_keeps_last_values(con: duckdb.DuckDBPyConnection) -> None:
    """Merging keeps the latest memory value and the maximum."""
    write(con, [row("memory", NOW - 10 * MINUTE + 3, value=5.0)], batch_size=1)
    write(con, [row("memory", NOW - 10 * MINUTE + 9, value=2.0)], batch_size=1)
    write(con, [row("memory", NOW - 10 * MINUTE + 1, value=9.0)], batch_size=1)
    rollup.compact(con, NOW)
    got = con.execute("SELECT value_last, value_max, last_ts FROM rollup_minute").fetchall()
    assert got == [(2.0, 9.0, NOW - 10 * MINUTE + 9)]


def test_compact_leaves_recent_buckets_alone(con: duckdb.DuckDBPyConnection) -> None:
    """Buckets that started less than settle_ms ago keep their unmerged rows."""
    write(con, [op("render", 1.0, NOW - MINUTE + k) for k in range(4)], batch_size=1)
    rollup.compact(con, NOW)
    assert _count(con, "rollup_minute", "NOT merged") == 4
    rollup.compact(con, NOW + 2 * MINUTE)
    assert _count(con, "rollup_minute", "NOT merged") == 0


def test_compact_twice_changes_nothing(con: duckdb.DuckDBPyConnection) -> None:
    """A second compaction with nothing new leaves every table as it was."""
    write(con, [op("render", float(k), NOW - HOUR + k * 1000) for k in range(50)], batch_size=7)
    rollup.compact(con, NOW + HOUR)
    first = {t: _count(con, t) for t in TABLES}
    rollup.compact(con, NOW + HOUR)
    assert {t: _count(con, t) for t in TABLES} == first


def test_compact_rolls_back_on_failure(con: duckdb.DuckDBPyConnection) -> None:
    """A failing compaction leaves the tables as they were and no transaction open."""
    write(con, [op("render", 1.0, NOW - HOUR + k) for k in range(3)], batch_size=1)
    con.execute("DROP TABLE rollup_hist_hour")
    with pytest.raises(duckdb.Error):
        rollup.compact(con, NOW + HOUR)
    assert _count(con, "rollup_minute", "NOT merged") == 3
    con.execute("BEGIN TRANSACTION")
    con.execute("ROLLBACK")


def test_delete_before_drops_whole_buckets_before_cutoff(con: duckdb.DuckDBPyConnection) -> None:
    """Retention deletes buckets ending at or before the cutoff and keeps the rest."""
    write(con, [op("render", 1.0, NOW - 2 * HOUR), op("render", 1.0, NOW - 30 * MINUTE)])
    rollup.delete_before(con, NOW - 30 * MINUTE)
    assert [t for (t,) in con.execute("SELECT t FROM rollup_minute").fetchall()] == [
        NOW - 30 * MINUTE]
    assert [t for (t,) in con.execute("SELECT t FROM rollup_hour").fetchall()] == [NOW - HOUR]
    assert _count(con, "rollup_hist_hour") == 1


def test_rebuild_makes_the_same_rollup_from_raw_items(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuilding from raw items gives the totals that apply gave, fully merged."""
    write(con, [op("render", float(k), NOW - k * 90_000) for k in range(60)], batch_size=9)
    before = {t: _totals(con, t) for t in ("rollup_minute", "rollup_hour")}
    rollup.rebuild(con, NOW + HOUR)
    assert {t: _totals(con, t) for t in before} == before
    assert all(_count(con, table, "NOT merged") == 0 for table in TABLES)


def test_whole_buckets_of_aligned_day_are_hours_only() -> None:
    """A 24 h window from a whole hour reads 24 hours (the item at exactly ``to`` is raw)."""
    assert whole_buckets(NOW - 24 * HOUR, NOW) == (Span(HOUR_TIER, NOW - 24 * HOUR, NOW),)
    assert whole_buckets(NOW - 24 * HOUR, NOW - 2) == (
        Span(HOUR_TIER, NOW - 24 * HOUR, NOW - HOUR),
        Span(MINUTE_TIER, NOW - HOUR, NOW - MINUTE),
    )


def test_whole_buckets_of_unaligned_window_have_minutes_at_both_ends() -> None:
    """An unaligned window reads minutes up to the first whole hour, hours, then minutes."""
    start = NOW - 5 * HOUR + 17 * MINUTE + 5_000
    assert whole_buckets(start, NOW + 30 * MINUTE + 59_000) == (
        Span(MINUTE_TIER, NOW - 5 * HOUR + 18 * MINUTE, NOW - 4 * HOUR),
        Span(HOUR_TIER, NOW - 4 * HOUR, NOW),
        Span(MINUTE_TIER, NOW, NOW + 30 * MINUTE),
    )


def test_whole_buckets_of_short_window_are_minutes_only() -> None:
    """A window inside one hour reads only the minute buckets wholly inside it."""
    assert whole_buckets(NOW + 10 * MINUTE + 1, NOW + 40 * MINUTE) == (
        Span(MINUTE_TIER, NOW + 11 * MINUTE, NOW + 40 * MINUTE),)
    assert whole_buckets(NOW + 10 * MINUTE + 1, NOW + 11 * MINUTE + 59_998) == ()


def test_whole_buckets_without_hours_are_minutes() -> None:
    """With hours off (a series whose step is not whole hours) only minutes are read."""
    assert whole_buckets(NOW - 3 * HOUR, NOW, hours=False) == (
        Span(MINUTE_TIER, NOW - 3 * HOUR, NOW),)


def test_any_browser_histograms_are_filled_at_open_for_an_old_data_dir(
        con: duckdb.DuckDBPyConnection) -> None:
    """A data dir from before the any-browser table gets it filled from the full one."""
    write(con, [op("render", float(k + 1), NOW - k * 50_000, browser=b)
                for k, b in enumerate(["Chrome", "Firefox"] * 40)])
    tables = [tier.hist_any for tier in rollup.TIERS if tier.hist_any]
    before = {t: con.execute(f"SELECT name, bin, sum(n) FROM {t} GROUP BY ALL ORDER BY ALL")
              .fetchall() for t in tables}
    assert all(before.values())
    for table in tables:
        con.execute(f"DELETE FROM {table}")
    for ddl in rollup.ROLLUP_DDL:
        con.execute(ddl)
    assert {t: con.execute(f"SELECT name, bin, sum(n) FROM {t} GROUP BY ALL ORDER BY ALL")
            .fetchall() for t in tables} == before


def test_whole_buckets_of_local_tiers_read_five_minutes_at_the_edges() -> None:
    """With the embedded store's tiers a cut hour is covered by 5-minute buckets, then minutes."""
    five = rollup.FIVE
    start = NOW - 3 * HOUR + 17 * MINUTE + 5_000  # hh:17:05
    end = NOW + 23 * MINUTE + 10_000  # hh:23:10
    assert whole_buckets(start, end, tiers=rollup.LOCAL_TIERS) == (
        Span(MINUTE_TIER, NOW - 3 * HOUR + 18 * MINUTE, NOW - 3 * HOUR + 20 * MINUTE),
        Span(five, NOW - 3 * HOUR + 20 * MINUTE, NOW - 2 * HOUR),
        Span(HOUR_TIER, NOW - 2 * HOUR, NOW),
        Span(five, NOW, NOW + 20 * MINUTE),
        Span(MINUTE_TIER, NOW + 20 * MINUTE, NOW + 23 * MINUTE),
    )
    spans = whole_buckets(start, end, tiers=rollup.LOCAL_TIERS)
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(spans))
    assert whole_buckets(NOW + 1, NOW + 4 * MINUTE, tiers=rollup.LOCAL_TIERS) == (
        Span(MINUTE_TIER, NOW + MINUTE, NOW + 4 * MINUTE),)


def test_five_minute_tier_counts_every_item(con: duckdb.DuckDBPyConnection) -> None:
    """The 5-minute tier holds the same counts as the minute tier, in 5-minute buckets."""
    write(con, [op("render", float(k), NOW - k * 37_000) for k in range(200)])
    minutes = con.execute("SELECT (t // 300000) * 300000 AS t, sum(n) FROM rollup_minute "
                          "GROUP BY ALL ORDER BY ALL").fetchall()
    fives = con.execute("SELECT t, sum(n) FROM rollup_5m GROUP BY ALL ORDER BY ALL").fetchall()
    assert fives == minutes and sum(n for _, n in fives) == 200
    assert con.execute("SELECT sum(n) FROM rollup_hist_5m").fetchone()[0] == 200


def test_five_minute_tier_is_filled_at_open_for_an_old_data_dir(
        con: duckdb.DuckDBPyConnection) -> None:
    """A data dir from before the 5-minute tier gets it filled from the minute tier at open."""
    write(con, [op("render", float(k + 1), NOW - k * 41_000, browser=b)
                for k, b in enumerate(["Chrome", "Firefox"] * 60)])
    tables = (rollup.FIVE.table, rollup.FIVE.hist, rollup.FIVE.hist_any)
    query = "SELECT t, type, name, sum(n), sum(ms_sum), max(ms_max) FROM {} GROUP BY ALL ORDER BY ALL"
    hist = "SELECT t, name, bin, sum(n) FROM {} GROUP BY ALL ORDER BY ALL"
    before = [con.execute((query if i == 0 else hist).format(t)).fetchall()
              for i, t in enumerate(tables)]
    assert all(before)
    for table in tables:
        con.execute(f"DROP TABLE {table}")
    for ddl in rollup.ROLLUP_DDL:
        con.execute(ddl)
    assert [con.execute((query if i == 0 else hist).format(t)).fetchall()
            for i, t in enumerate(tables)] == before


def reopen_without_split_mark(con: duckdb.DuckDBPyConnection) -> None:
    """Open the rollup as a data dir from before the first-vs-cached split: the split is made
    once (not again when marked), and a dir made with it is marked from the start."""
    for ddl in rollup.ROLLUP_DDL:
        con.execute(ddl)
    assert not rollup.add_split(con)  # marked when the rollup was made
    con.execute("DELETE FROM rollup_marks")
    for ddl in rollup.ROLLUP_DDL:  # a data dir with rows keeps no mark at open
        con.execute(ddl)
    assert rollup.add_split(con) and not rollup.add_split(con)


def test_any_browser_counters_are_filled_at_open_for_an_old_data_dir(
        con: duckdb.DuckDBPyConnection) -> None:
    """The counter tables without browser (release kept for bundle loads only) hold the full
    tables' counts, and a data dir from before them gets them filled at open."""
    write(con, [op("render", float(k + 1), NOW - k * 50_000, browser=b, release=r)
                for k, (b, r) in enumerate([("Chrome", "1"), ("Firefox", "2")] * 40)]
          + [row("bundle_load", NOW - 7_000, ms=5.0, release="2", cached=True)])
    tables = [t.counters_any for t in rollup.LOCAL_TIERS if t.counters_any]
    query = ("SELECT t, type, release, name, sum(n), sum(ms_sum), max(ms_max) FROM {} "
             "GROUP BY ALL ORDER BY ALL")
    before = {t: con.execute(query.format(t)).fetchall() for t in tables}
    assert sum(n for *_, n, _, _ in before["rollup_any_hour"]) == 81
    assert {r[2] for r in before["rollup_any_hour"]} == {None, "2"}  # the bundle load's release
    for table in tables:
        con.execute(f"DROP TABLE {table}")
    reopen_without_split_mark(con)
    assert {t: con.execute(query.format(t)).fetchall() for t in tables} == before


def test_a_long_window_reads_whole_days_and_day_buckets_hold_every_item(
        con: duckdb.DuckDBPyConnection) -> None:
    """Whole UTC days come from the day tier, cut days from hours; its counts are complete."""
    day = rollup.DAY.width_ms
    midnight = NOW - NOW % day
    spans = whole_buckets(midnight - 2 * day - HOUR, midnight + 2 * HOUR, tiers=rollup.LOCAL_TIERS)
    assert spans == (Span(HOUR_TIER, midnight - 2 * day - HOUR, midnight - 2 * day),
                     Span(rollup.DAY, midnight - 2 * day, midnight),
                     Span(HOUR_TIER, midnight, midnight + 2 * HOUR))
    write(con, [op("render", 1.0, midnight - k * 3 * HOUR) for k in range(30)])
    assert con.execute("SELECT sum(n), min(t % 86400000), count(DISTINCT t) FROM rollup_day"
                       ).fetchone() == (30, 0, 5)  # 90 hours back from midnight: 5 days


def test_first_vs_cached_histograms_are_made_at_open_for_an_old_data_dir(
        con: duckdb.DuckDBPyConnection) -> None:
    """Bundle-load histogram rows carry first-or-cached, with compile + instantiate rows
    beside them; a data dir from before (name NULL, no such rows) gets them at open, made
    from its raw loads: the same rows ``apply`` wrote."""
    write(con, [row("bundle_load", NOW - k * 70_000, ms=float(100 + k), cached=k % 3 == 0,
                    compile_ms=float(k), instantiate_ms=2.0, browser=("Chrome", "Firefox")[k % 2])
                for k in range(60)] + [op("render", 5.0, NOW - 1_000)])
    tables = [t for tier in rollup.LOCAL_TIERS for t in (tier.hist, tier.hist_any) if t]
    query = ("SELECT t, type, name, bin, sum(n) FROM {} WHERE type IN ('bundle_load', "
             "'bundle_ci') GROUP BY ALL ORDER BY ALL")
    before = {t: con.execute(query.format(t)).fetchall() for t in tables}
    minute = before[rollup.MINUTE.hist]
    assert {r[2] for r in minute if r[1] == "bundle_load"} == {"first", "cached"}
    assert sum(r[4] for r in minute if r[1] == rollup.CI_TYPE) == 60
    assert sum(r[4] for r in minute if r[2] == "cached") == 20
    for table in tables:  # as the code before the split wrote them
        con.execute(f"DELETE FROM {table} WHERE type = 'bundle_ci'")
        con.execute(f"UPDATE {table} SET name = NULL WHERE type = 'bundle_load'")
    reopen_without_split_mark(con)
    assert {t: con.execute(query.format(t)).fetchall() for t in tables} == before
    assert con.execute(f"SELECT count(*) FROM {rollup.MINUTE.hist} WHERE type = 'bundle_load' "
                       "AND name IS NULL").fetchall() == [(0,)]

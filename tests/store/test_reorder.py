"""Item tables put back in time order after an out-of-order load (real DuckDB file)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from wasmwatch.store import layout, reorder

ROWS = 600_000  # five row groups of DuckDB's 122,880 rows
NOW = 1_764_000_000_000


def _store(path: Path, order: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    for ddl in [*layout.tables(), layout.view()]:
        con.execute(ddl)
    con.execute("INSERT INTO batches (batch, project, received, skew) VALUES (1, 'p1', 0, 0)")
    con.execute(f"INSERT INTO item_feature (batch, id, ts, name, project) SELECT 1, 'i' || i, "
                f"{order}, 'f' || (i % 7), 'p1' FROM range({ROWS}) t(i)")
    con.execute("INSERT INTO item_memory (batch, id, ts, value) VALUES (1, 'm', 5, 1.0)")
    con.execute("CHECKPOINT")
    return con


def _scanned(con: duckdb.DuckDBPyConnection) -> str:
    plan = con.execute("EXPLAIN ANALYZE SELECT count(*) FROM item_feature "
                       "WHERE ts >= 1000 AND ts < 2000").fetchall()[0][1]
    return next(line for line in plan.splitlines() if "Row Groups Scanned" in line)


def test_a_shuffled_table_is_rewritten_in_time_order(tmp_path: Path) -> None:
    """After a shuffled load every row group spans the whole range; reorder sorts the table,
    keeps every row, and a narrow range then reads one row group."""
    con = _store(tmp_path / "s.duckdb", f"hash(i) % {ROWS}")
    before = con.execute("SELECT sum(hash(id, ts, name)), count(*) FROM item_feature").fetchone()
    assert reorder.spread(con, "item_feature") > reorder.SPREAD_LIMIT
    assert "5 / 5" in _scanned(con)
    assert reorder.reorder(con, NOW) == ["item_feature"]
    assert reorder.spread(con, "item_feature") < 1.01
    assert con.execute("SELECT sum(hash(id, ts, name)), count(*) FROM item_feature").fetchone() \
        == before
    assert "1 / 5" in _scanned(con)
    assert con.execute("SELECT count(*) FROM items WHERE type = 'feature'").fetchone()[0] == ROWS


def test_a_table_in_time_order_is_left_alone(tmp_path: Path) -> None:
    """Live traffic lands in time order: nothing is rewritten, nothing for tiny tables."""
    con = _store(tmp_path / "o.duckdb", "i")
    assert reorder.spread(con, "item_feature") < 1.01
    assert reorder.spread(con, "item_memory") == 0.0
    assert reorder.reorder(con, NOW) == []


def test_a_table_is_rewritten_at_most_once_per_interval(tmp_path: Path) -> None:
    """Out of order again within the interval (late items): left alone until it has passed."""
    con = _store(tmp_path / "r.duckdb", f"hash(i) % {ROWS}")
    assert reorder.reorder(con, NOW) == ["item_feature"]
    con.execute(f"INSERT INTO item_feature (batch, id, ts, name) SELECT 1, 'j' || i, hash(i + 7) % {ROWS}, 'g' "
                f"FROM range({ROWS}) t(i)")
    con.execute("CHECKPOINT")
    assert reorder.spread(con, "item_feature") > reorder.SPREAD_LIMIT
    assert reorder.reorder(con, NOW + reorder.MIN_INTERVAL_MS - 1) == []
    assert reorder.reorder(con, NOW + reorder.MIN_INTERVAL_MS) == ["item_feature"]
    assert con.execute("SELECT count(*) FROM item_feature").fetchone()[0] == 2 * ROWS


def test_a_rewrite_out_of_memory_is_rolled_back_and_tried_again_soon(tmp_path: Path) -> None:
    """A rewrite that runs out of memory (here: a tiny limit and no room to spill) keeps every
    row, is not counted as done, and is tried again after OOM_RETRY_MS, not the whole hour."""
    con = _store(tmp_path / "m.duckdb", f"hash(i) % {ROWS}")
    before = con.execute("SELECT sum(hash(id, ts, name)), count(*) FROM item_feature").fetchone()
    con.execute("SET memory_limit = '8MB'")
    con.execute("SET max_temp_directory_size = '0KiB'")
    assert reorder.reorder(con, NOW) == []
    assert con.execute("SELECT sum(hash(id, ts, name)), count(*) FROM item_feature").fetchone() \
        == before
    assert reorder.spread(con, "item_feature") > reorder.SPREAD_LIMIT
    con.execute("RESET memory_limit")
    con.execute("RESET max_temp_directory_size")
    assert reorder.reorder(con, NOW + reorder.OOM_RETRY_MS - 1) == []
    assert reorder.reorder(con, NOW + reorder.OOM_RETRY_MS) == ["item_feature"]
    assert reorder.spread(con, "item_feature") < 1.01

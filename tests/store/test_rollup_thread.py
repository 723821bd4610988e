"""The rollup aggregation on its own thread, beside the writer's commits (DuckDBStore).

Staged rows are aggregated on the ``wasmwatch-rollup`` thread while the writer goes on
committing; the rollup's watermark is the newest batch of the rows it aggregated, not the
newest stored batch, so a summary read at any moment (rollup up to the watermark plus the raw
rows after it) counts every stored item exactly once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from tests.store.seeds import NOW, seeded_chunks
from wasmwatch.ingest.columnar import Chunk, Prepared
from wasmwatch.query import rollup, summary
from wasmwatch.store.duckdb import DuckDBStore


def _store(path: Path, threads: list[str], flush_rows: int, slow_s: float = 0.0) -> DuckDBStore:
    def note_thread(con: Any, batch: str) -> None:
        threads.append(threading.current_thread().name)
        time.sleep(slow_s)  # the writer commits more meanwhile

    return DuckDBStore(path, ddl=rollup.ROLLUP_DDL, after_insert=[note_thread, rollup.apply],
                       recover=[rollup.rebuild], aggregate_columns=rollup.SOURCE_COLUMNS,
                       flush_rows=flush_rows)


def _events(store: DuckDBStore, exact: bool) -> int:
    """Items in the 24 h summary (from the rollup unless ``exact``), all types."""
    events = summary(store.reader(), project="p1", window_s=86400, now_ms=NOW,
                     exact=exact)["events"]
    return sum(events.values())


def test_summary_is_exact_at_every_moment_while_the_rollup_thread_aggregates(
        tmp_path: Path) -> None:
    threads: list[str] = []
    store = _store(tmp_path, threads, flush_rows=150, slow_s=0.05)
    groups: list[list[Chunk]] = [[c] for group in seeded_chunks() for c in group]
    stored = 0
    try:
        for group in groups:
            written = store.write(Prepared(group))
            stored += int((~written.duplicate).sum())
            # an aggregation may be running now: the rollup answer must still be exact
            assert _events(store, exact=False) == _events(store, exact=True) == stored
        store.flush(force=True)
        assert _events(store, exact=False) == stored == 3000
        ((rolled,),) = store.reader().execute(
            "SELECT sum(n) FROM rollup_day WHERE type <> 'bundle_ci'").fetchall()
        assert rolled == stored  # every item aggregated once, none twice
    finally:
        store.close()
    assert "wasmwatch-rollup" in " ".join(threads), threads
    assert not any(name.startswith("MainThread") for name in threads)


def test_rows_staged_during_a_failed_aggregation_are_kept_for_the_next(tmp_path: Path) -> None:
    threads: list[str] = []
    store = _store(tmp_path, threads, flush_rows=10_000_000)
    groups = seeded_chunks()
    try:
        store.write(Prepared(groups[0]))
        store._agg.execute("ALTER TABLE rollup_day RENAME TO rollup_day_away")  # apply fails
        try:
            store.flush(force=True)
        except Exception as exc:  # the writer's flush reports it
            assert "aggregating failed" in str(exc)
        else:
            raise AssertionError("the flush should have failed")
        store._agg.execute("ALTER TABLE rollup_day_away RENAME TO rollup_day")
        store.write(Prepared(groups[1]))
        store.flush(force=True)
        assert _events(store, exact=False) == _events(store, exact=True) == store.stored_count()
    finally:
        store.close()


def test_the_watermark_is_the_newest_batch_aggregated_not_the_newest_stored(
        tmp_path: Path) -> None:
    """Rows committed after the staged rows were taken (the writer goes on while the rollup
    thread starts) are neither claimed by the rollup nor lost: read raw until aggregated."""
    store = _store(tmp_path, [], flush_rows=10_000_000)
    first, second = seeded_chunks()[:2]
    try:
        store.write(Prepared(first))
        staged = store._take_staged()
        assert staged is not None and staged[2] == len(first)  # batches 1..len(first)
        store.write(Prepared(second))  # committed before the aggregation of the first runs
        store._aggregate(*staged)
        ((through,),) = store.reader().execute(
            "SELECT max(through_batch) FROM rollup_state").fetchall()
        assert through == len(first)
        assert _events(store, exact=False) == _events(store, exact=True) == store.stored_count()
        store.flush(force=True)
        assert _events(store, exact=False) == store.stored_count()
    finally:
        store.close()


def test_an_aggregation_failing_outside_the_database_leaves_a_rebuild_not_a_failed_commit(
        tmp_path: Path) -> None:
    """A hook that raises (not a DuckDB error) on the rollup thread: the commits that staged
    the rows still succeed, the rows are let go with the unclean flag kept, and the next open
    rebuilds the rollup from raw items, so its answers are exact again."""
    calls = []

    def broken(con: Any, batch: str) -> None:
        calls.append(batch)
        raise ValueError("a hook's own bug")

    store = DuckDBStore(tmp_path, ddl=rollup.ROLLUP_DDL, after_insert=[broken, rollup.apply],
                        recover=[rollup.rebuild], aggregate_columns=rollup.SOURCE_COLUMNS,
                        flush_rows=150)
    groups: list[list[Chunk]] = [[c] for group in seeded_chunks() for c in group]
    for group in groups:
        store.write(Prepared(group))  # never raises for the rollup thread's failure
    stored = store.stored_count()
    assert calls and store.close()  # the close says the rollups need a rebuild
    store = _store(tmp_path, [], flush_rows=150)
    try:
        assert store.recover(NOW)  # the unclean flag was left: rebuilt
        assert _events(store, exact=False) == _events(store, exact=True) == stored
    finally:
        store.close()

"""``Prepared.rows``: the kept items in the wide shape, exactly as view ``items`` shows them
once a real DuckDB store has committed them (every column, and a subset)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.columnar import Chunk, Prepared, prepare
from wasmwatch.store.duckdb import DuckDBStore
from wasmwatch.store.layout import batch_context
from wasmwatch.store.schema import COLUMNS

NOW = 1_764_000_000_000


def _item(i: int) -> s.Item:
    ts, iid = float(NOW - 997 * i), f"it{i}"
    kinds: list[s.Item] = [s.Operation(id=iid, ts=ts, name="render", ms=i / 7, ok=i % 3 > 0),
            s.Error(id=iid, ts=ts, kind="TypeError", message=f"x {i % 4}", category="runtime",
                    stack="at f (app.wasm:wasm-function[1]:0x8d)"),
            s.Memory(id=iid, ts=ts, wasm_bytes=i << 16),
            s.Feature(id=iid, ts=ts, name="pdf"),
            s.Measurement(id=iid, ts=ts, name="fps", value=float(i), tags={"k": "v"}),
            s.OfflineSync(id=iid, ts=ts, synced=i % 9, ms=1.5, pending=i % 200, ok=True),
            ]
    return kinds[i % 6 if i % 5 else 0]


def _groups() -> list[list[Chunk]]:
    """Three commits of mixed chunks from two projects and three skews; the last repeats ids."""
    chunks = []
    for start in range(0, 1200, 100):
        items = [_item(i) for i in range(start, start + 100)]
        prepare(items)
        chunks.append(Chunk(batch_context(
            f"p{start // 400}", NOW, skew=(start // 100 % 3) * 1000, session=f"s{start}",
            release=["1.0", None][start // 100 % 2], browser="Chrome", online=True), items, 100))
    return [chunks[0:4], chunks[4:12], chunks[2:3] + chunks[8:10]]


def _by_id(table: pa.Table) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda r: str(r["id"]))


def test_rows_equal_the_stored_items_for_mixed_types_and_duplicates(tmp_path: Path) -> None:
    """Every kept row and column equals the stored one; duplicates are left out; a subset of
    columns comes in the order asked."""
    store = DuckDBStore(tmp_path / "d")
    try:
        for group in _groups():
            prepared = Prepared(group)
            base = store._next_batch
            keep = ~store.write(prepared).duplicate
            wide = prepared.rows(base, keep)
            assert wide.column_names == list(COLUMNS)
            ids = [prepared.ids[p] for p in range(prepared.size) if keep[p]]
            assert wide.num_rows == len(ids) and len(prepared.types) > 3
            con = store.reader()
            stored = con.sql(
                f"SELECT {', '.join(COLUMNS)} FROM items WHERE list_contains($ids, id)",
                params={"ids": ids}).to_arrow_table()
            assert stored.num_rows == len(ids)
            assert _by_id(wide.cast(stored.schema)) == _by_id(stored)
            subset = ["ts", "release", "type", "client_ts", "ms"]
            assert prepared.rows(base, keep, subset).column_names == subset
            assert _by_id(prepared.rows(base, keep, ["id", *subset])) == _by_id(
                wide.select(["id", *subset]))
    finally:
        store.close()

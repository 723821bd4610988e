"""Prototype commit strategies against wasmwatch's current one, on the same rows and schema.

Not server code: a measurement to size the suggestions in RESULTS.md. Each variant commits
``--commits`` groups of G items (rows built by wasmwatch's own pipeline from run.py's bodies)
into a fresh DuckDB file with wasmwatch's ``items`` and rollup tables, and reports wall time
and process CPU per item and per commit:

* ``current``: ``DuckDBStore.write`` as the server runs it (a view over ``read_json`` of the
  batch file, read three times: dedup SEMI JOIN, INSERT, rollup staging; then 5 rollup
  statements and COMMIT);
* ``materialize``: ``read_json`` once into a TEMP TABLE, then the same dedup, INSERT, rollup
  and COMMIT from it;
* ``materialize+defer-rollup``: as above without ``rollup.apply`` in the commit; the rollup
  is then run once over all the variant's rows (as a periodic job over newly committed rows
  would) and reported separately;
* ``materialize+defer-rollup+no-dedup``: the previous one without the SEMI JOIN (what an in-memory
  set of recent ids would save when it can vouch for a whole batch);

Run: ``.venv/bin/python bench/ingest/store_variants.py [--sizes 128,16000,64000] [--commits 20]``
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
import phases

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.pipeline import Pipeline
from wasmwatch.query import rollup
from wasmwatch.store.duckdb import _JSON_COLUMNS, DuckDBStore
from wasmwatch.store.schema import Row

_encoder = msgspec.json.Encoder()


def cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def make_rows(n_items: int, single: bool) -> list[Row]:
    per = 1 if single else 1000
    pipeline = Pipeline()
    decoder = msgspec.json.Decoder(s.Envelope)
    rows: list[Row] = []
    for body in phases.bodies(max(1, n_items // per), single):
        env = decoder.decode(body)
        ctx = pipeline.batch(env.context, project="default", user_agent="Mozilla/5.0 (X11; Linux "
                             "x86_64) Chrome/124.0.0.0 Safari/537.36", sent_at=env.sent_at,
                             now_ms=int(time.time() * 1000))
        rows.extend(pipeline.rows(env.items, ctx)[0])
    return rows


class Variant:
    """A DuckDB file with wasmwatch's schema and one way of committing a batch."""

    def __init__(self, folder: Path, materialize: bool, rollup_in_commit: bool, dedup: bool) -> None:
        self.store = DuckDBStore(folder, ddl=rollup.ROLLUP_DDL,
                                 after_insert=[rollup.apply] if rollup_in_commit else [])
        self.con = self.store._con
        self.file = self.store._batch_file
        self.materialize = materialize
        self.rollup_in_commit = rollup_in_commit
        self.dedup = dedup

    def write(self, rows: Sequence[Row]) -> None:
        if not self.materialize:
            self.store.write(rows)
            return
        self.file.write_bytes(_encoder.encode(rows))
        con = self.con
        con.execute("BEGIN")
        con.execute("CREATE OR REPLACE TEMP TABLE b AS SELECT * FROM read_json("
                    f"'{self.file}', format='array', columns={_JSON_COLUMNS}, "
                    "maximum_object_size=67108864)")
        if self.dedup:
            lo = min(r.client_ts for r in rows)
            hi = max(r.client_ts for r in rows)
            con.execute("SELECT b.id FROM b SEMI JOIN (SELECT id, project FROM items WHERE "
                        "client_ts BETWEEN ? AND ?) i ON i.id = b.id AND i.project = b.project",
                        [lo, hi]).fetchall()
        con.execute("INSERT INTO items SELECT * FROM b")
        if self.rollup_in_commit:
            rollup.apply(con, "b")
        con.execute("COMMIT")

    def deferred_rollup(self) -> float:
        """Roll up every stored item in one transaction; returns wall seconds."""
        t = time.perf_counter()
        self.con.execute("BEGIN")
        rollup.apply(self.con, "items")
        self.con.execute("COMMIT")
        return time.perf_counter() - t

    def close(self) -> None:
        self.store.close()


VARIANTS: dict[str, Callable[[Path], Variant]] = {
    "current": lambda d: Variant(d, materialize=False, rollup_in_commit=True, dedup=True),
    "materialize": lambda d: Variant(d, materialize=True, rollup_in_commit=True, dedup=True),
    "materialize+defer-rollup": lambda d: Variant(d, materialize=True, rollup_in_commit=False,
                                                  dedup=True),
    "materialize+defer-rollup+no-dedup": lambda d: Variant(d, materialize=True,
                                                           rollup_in_commit=False, dedup=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="128,16000,64000", help="items per commit")
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    base = Path(tempfile.mkdtemp(prefix="wwvariants-", dir="/tmp"))
    print(f"DuckDB {duckdb.__version__}, {os.cpu_count()} cores; data under {base}")
    try:
        for size in sizes:
            single = size < 1000
            rows = make_rows(size * args.commits, single)
            groups = [rows[i:i + size] for i in range(0, len(rows), size)][: args.commits]
            n = sum(len(g) for g in groups)
            print(f"\n== {size} items per commit, {len(groups)} commits")
            for name in args.variants.split(","):
                folder = base / f"{size}-{name.replace('+', '_')}"
                variant = VARIANTS[name](folder)
                variant.write(groups[0])  # warm: plans, file, first row group
                t, c = time.perf_counter(), cpu()
                for group in groups[1:]:
                    variant.write(group)
                wall, used = time.perf_counter() - t, cpu() - c
                m = n - len(groups[0])
                extra = ""
                if not variant.rollup_in_commit:
                    r = variant.deferred_rollup()
                    extra = f"  (+ deferred rollup of {n:,} items: {r * 1e6 / n:.2f} us/item)"
                print(f"  {name:34s} {wall / m * 1e6:8.2f} us/item wall  {used / m * 1e6:8.2f} us/item "
                      f"CPU  {wall / (len(groups) - 1) * 1e3:8.2f} ms/commit  "
                      f"=> {m / wall:>10,.0f} items/s{extra}", flush=True)
                variant.close()
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

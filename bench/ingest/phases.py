"""Where one group commit's time goes, measured on wasmwatch's own code (no server, no HTTP).

Builds the bulk bodies ``run.py`` sends, then for group sizes of 1, 16 and 64 requests times:

* ``decode+validate``: ``Envelope`` decode plus ``Pipeline.rows`` (per-item msgspec decode,
  checks, ``Row`` construction, processors), per request, as the handler runs it;
* ``group dedup``: the Python loop of ``Writer._commit`` that drops ids repeated in a group;
* ``store.write`` split by statement (``msgspec`` encode to JSON, file write, each SQL statement
  including ``rollup.apply``'s, and ``COMMIT`` = WAL write + fsync);
* ``on_commit``: ``ClientMetrics.observe`` and ``LiveHub.publish``;

and prints microseconds per item for each. The store runs on a real data dir in ``--data-dir``
(default: a temp dir under /tmp, i.e. the same disk as the benchmark).

Run: ``.venv/bin/python bench/ingest/phases.py [--commits 30] [--single]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.pipeline import Pipeline
from wasmwatch.live import LiveHub
from wasmwatch.query import rollup
from wasmwatch.store import duckdb as store_mod
from wasmwatch.store.duckdb import DuckDBStore
from wasmwatch.telemetry import ClientMetrics

TIMES: dict[str, float] = defaultdict(float)


class TimedConnection:
    """Wraps the store's DuckDB connection and adds each statement's time to TIMES."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def execute(self, sql: str, *args: Any) -> Any:
        t = time.perf_counter()
        out = self._con.execute(sql, *args)
        key = " ".join(sql.split())[:60]
        if key.startswith("INSERT INTO rollup") or key.startswith("CREATE TEMP TABLE _ww_stage") \
                or key.startswith("DROP TABLE _ww_stage"):
            key = "rollup: " + key[:40]
        TIMES["sql: " + key] += time.perf_counter() - t
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class TimedEncoder:
    def __init__(self, enc: msgspec.json.Encoder) -> None:
        self._enc = enc

    def encode(self, obj: Any) -> bytes:
        t = time.perf_counter()
        out = self._enc.encode(obj)
        TIMES["msgspec encode rows to JSON"] += time.perf_counter() - t
        return out


def bodies(n: int, single: bool) -> list[bytes]:
    """n request bodies with unique ids, ts 10-20 s before now."""
    folder = Path(tempfile.mkdtemp(prefix="wwphases-"))
    try:
        bench.write_templates(folder)
        templates = (folder / ("single.tmpl" if single else "bulk.tmpl")).read_bytes().split(b"\0")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out = []
    for i in range(n):
        ms = int(time.time() * 1000)
        body = templates[i % len(templates)]
        body = body.replace(b"\x01", f"r{i:08d}".encode()).replace(
            b"\x02", str(ms // 10000 - 1).encode()).replace(b"\x03", str(ms).encode())
        out.append(body)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=30, help="commits per group size")
    parser.add_argument("--single", action="store_true", help="1-item requests instead of 1000")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="wwphases-data-", dir="/tmp"))
    try:
        run_phases(args, data_dir)
    finally:
        if not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def run_phases(args: argparse.Namespace, data_dir: Path) -> None:
    store = DuckDBStore(data_dir, ddl=rollup.ROLLUP_DDL, after_insert=[rollup.apply])
    store._con = TimedConnection(store._con)  # type: ignore[assignment]
    store_mod._encoder = TimedEncoder(store_mod._encoder)  # type: ignore[assignment]
    metrics = ClientMetrics(None)
    live = LiveHub()
    pipeline = Pipeline()
    decoder = msgspec.json.Decoder(s.Envelope)
    groups = (1, 16, 128, 512) if args.single else (1, 16, 64)
    total_requests = sum(g * args.commits for g in groups)
    print(f"building {total_requests} bodies ...", flush=True)
    all_bodies = bodies(total_requests, args.single)
    fsync_probe(data_dir)
    cursor = 0
    for group in groups:
        TIMES.clear()
        items = 0
        for _ in range(args.commits):
            t = time.perf_counter()
            pending = []
            for body in all_bodies[cursor:cursor + group]:
                env = decoder.decode(body)
                ctx = pipeline.batch(env.context, project="default", user_agent="Mozilla/5.0 "
                                     "(X11; Linux x86_64) Chrome/124.0.0.0 Safari/537.36",
                                     sent_at=env.sent_at, now_ms=int(time.time() * 1000))
                rows, _, _ = pipeline.rows(env.items, ctx)
                pending.append(rows)
            cursor += group
            TIMES["decode+validate (handler)"] += time.perf_counter() - t
            t = time.perf_counter()
            rows, seen = [], set()
            for req in pending:
                for row in req:
                    if row.id not in seen:
                        seen.add(row.id)
                        rows.append(row)
            TIMES["group dedup (Writer._commit)"] += time.perf_counter() - t
            t = time.perf_counter()
            store.write(rows)
            TIMES["store.write total"] += time.perf_counter() - t
            t = time.perf_counter()
            metrics.observe(rows)
            live.publish(rows)
            TIMES["on_commit hooks (metrics.observe)"] += time.perf_counter() - t
            items += len(rows)
        per_commit = items / args.commits
        print(f"\n== {group} request(s) per commit, {per_commit:.0f} items per commit, "
              f"{args.commits} commits")
        total = TIMES["decode+validate (handler)"] + TIMES["group dedup (Writer._commit)"] + \
            TIMES["store.write total"] + TIMES["on_commit hooks (metrics.observe)"]
        for key, value in sorted(TIMES.items(), key=lambda kv: -kv[1]):
            print(f"  {value / items * 1e6:9.2f} us/item  {value / args.commits * 1e3:8.2f} ms/commit"
                  f"  {key}")
        print(f"  {total / items * 1e6:9.2f} us/item  {total / args.commits * 1e3:8.2f} ms/commit"
              f"  = all, serial (=> {items / total:,.0f} items/s on one core)")
    store.close()


def fsync_probe(data_dir: Path) -> None:
    """Median time of a 4 KiB write + fsync in the data dir (what each WAL commit pays)."""
    path = data_dir / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    times = []
    try:
        for _ in range(50):
            os.write(fd, b"x" * 4096)
            t = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        path.unlink()
    times.sort()
    print(f"fsync of 4 KiB in {data_dir}: median {times[25] * 1e3:.2f} ms, p90 {times[45] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()

"""Server CPU per item of each ingest stage, one stage at a time: where an item's time goes.

A real ``Runtime`` on a fresh data dir; ``--bodies`` bodies of the ``targets.py`` templates
(``sdk``: its gzip SDK envelopes, unzipped first) are decoded and checked as
``POST /api/v1/ingest`` does, grouped ``--group`` chunks per commit, and each stage is timed
apart with the process's CPU time (DuckDB's own threads included): ``decode``, ``check``,
``prepared`` (:class:`~wasmwatch.ingest.columnar.Prepared`), ``write`` (the store's
transaction, the rows for the hooks, the staging), ``flush`` (the rollup aggregation, run here
on the calling thread once at the end over every staged row, ``flush_rows`` being set out of
reach), ``rows_of`` and each ``on_commit`` hook. The stages run one after another, so the
figures add up to an item's CPU without the threads' overlap or the GIL's hand-offs
(``cpu_path.py`` and ``targets.py`` measure those). ``--trace-flush`` prints each statement of
the flush with its CPU and wall time.

Run: ``.venv/bin/python bench/ingest/stages.py --load bulk1000 --bodies 300 --group 64``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cpu_path  # the bodies, filled in per request as ingest.lua does
import targets

from wasmwatch.config import Settings
from wasmwatch.ingest import schema as s
from wasmwatch.ingest.columnar import Chunk, Prepared
from wasmwatch.runtime import Runtime
from wasmwatch.store.schema import rows_of
from wasmwatch.store.writer import COLUMNAR_MIN_ROWS
from wasmwatch.web.ingest import decode_envelope

AGENT = "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0"


class Stages:
    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)

    def timed(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        t0 = time.process_time()
        out = fn(*args)
        self.spent[name] += time.process_time() - t0
        return out


async def run(load: str, bodies_n: int, group: int, trace: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="ww-tmpl-") as folder, \
            tempfile.TemporaryDirectory(prefix="ww-stages-") as tmp:
        random.seed(8)
        targets.write_templates(Path(folder))
        rt = Runtime(Settings(data_dir=tmp, ingest_key="k", admin_token="t", rate_limit=1e9,
                              poll_interval_s=3600.0, maintenance_interval_s=3600.0))
        await rt.start()
        store, writer = rt.writer.store, rt.writer
        store.flush_rows = 1 << 62  # one flush, timed at the end
        gc.freeze()
        src = (cpu_path.SdkBodies(Path(folder), bodies_n + 10) if load == "sdk"
               else cpu_path.Bodies(Path(folder), load))
        st = Stages()
        items = 0
        chunks: list[Chunk] = []
        for n in range(bodies_n):
            body = src.next(int(time.time() * 1000))
            if load == "sdk":
                body = gzip.decompress(body)
            env = st.timed("decode", decode_envelope, body)
            t0 = time.process_time()
            ctx = rt.pipeline.batch(env.context, project="default", user_agent=AGENT,
                                    sent_at=env.sent_at, now_ms=rt.clock.now_ms())
            chunk, _ = rt.pipeline.check(env.items, ctx, len(body),
                                         typed=isinstance(env, s.TypedEnvelope))
            st.spent["check"] += time.process_time() - t0
            chunks.append(chunk)
            items += len(chunk.items)
            if len(chunks) == group or n == bodies_n - 1:
                prepared = st.timed("prepared", Prepared, chunks)
                written = st.timed("write", store.write, prepared, True, writer.commit_columns)
                rows = written.rows
                values = (rows if rows.num_rows >= COLUMNAR_MIN_ROWS
                          else st.timed("rows_of", rows_of, rows))
                for hook in writer._on_commit:
                    st.timed(f"hook {getattr(hook, '__qualname__', hook)}", hook, values)
                chunks = []
        if trace:
            _trace(store)
        st.timed("flush", store.flush, True)
        await rt.stop()
    out = {k: v / items * 1e6 for k, v in st.spent.items()}
    return {"items": items, **out, "total": sum(out.values())}


def _trace(store: Any) -> None:
    """Print each statement of the next flush (on the store's rollup cursor) with its time."""
    con = store._agg

    class Traced:
        def __getattr__(self, name: str) -> Any:
            return getattr(con, name)

        def execute(self, sql: str, *args: Any) -> Any:
            t0, w0 = time.process_time(), time.perf_counter()
            out = con.execute(sql, *args)
            print(f"{(time.process_time() - t0) * 1e3:8.1f} ms cpu "
                  f"{(time.perf_counter() - w0) * 1e3:8.1f} ms wall  "
                  + " ".join(sql.split())[:150], file=sys.stderr)
            return out

    store._agg = Traced()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--load", default="bulk1000", choices=["bulk1000", "bulk100", "single", "sdk"])
    ap.add_argument("--bodies", type=int, default=300)
    ap.add_argument("--group", type=int, default=64)
    ap.add_argument("--trace-flush", action="store_true")
    args = ap.parse_args()
    out = asyncio.run(run(args.load, args.bodies, args.group, args.trace_flush))
    print(json.dumps({k: round(v, 3) for k, v in out.items()}))


if __name__ == "__main__":
    main()

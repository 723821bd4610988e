"""What the PII scrub costs on the SDK benchmark's error stacks and on a new session's context.

The SDK load of ``targets.py`` sends a new session per body and random wasm stacks (6-14
frames, ``bench/ingest/run.py``'s ``_stack``), so neither is in the scrubber's cache: this times
``Scrubber._scan`` of such stacks (best of ``--rounds``) and ``Pipeline._context`` of contexts
with fresh sessions, in µs each. Run it for another checkout with ``PYTHONPATH=<its root>`` to
compare in the same session, e.g. alternately:

    PYTHONPATH=/tmp/main97 .venv/bin/python bench/ingest/scrub_stacks.py --label main97
    .venv/bin/python bench/ingest/scrub_stacks.py --label this
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # the stacks of the ingest benchmarks

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.pipeline import Pipeline
from wasmwatch.ingest.scrub import Scrubber

UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0"


def best(fn: Callable[[Any], object], args: Sequence[Any], rounds: int) -> float:
    """µs per call, the best of ``rounds`` passes over ``args``."""
    fastest = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for arg in args:
            fn(arg)
        fastest = min(fastest, (time.perf_counter() - started) / len(args))
    return fastest * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stacks", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--label", default="this")
    args = ap.parse_args()
    rng = random.Random(1)
    stacks = [run._stack(rng) for _ in range(args.stacks)]
    scan = best(Scrubber()._scan, stacks, args.rounds)
    pipeline = Pipeline()
    pipeline._context(s.Context(session="warm-up"), "default", UA)  # ua-parser's first parse
    contexts = [s.Context(session=f"s{rng.getrandbits(40):x}", release="1.4.2", page="/app/editor",
                          connection="wifi", device="desktop", online=True, sdk="0.1.0")
                for _ in range(args.stacks * args.rounds)]
    fresh = best(lambda ctx: pipeline._context(ctx, "default", UA), contexts, 1)
    print(f"{args.label}: random wasm stack scan {scan:.1f} µs, new session's context {fresh:.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

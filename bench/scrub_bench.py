"""Micro-benchmark: what PII scrubbing adds to ingest, per item and per string.

Per item: the pipeline over 1000-item batches of raw JSON items (a realistic mix of
types; operation and feature names, units and tags repeat; errors come from 200 distinct
messages and stacks, since a recurring error repeats its own; ids as the SDK makes them), with the
scrubber on (the default) and off (``scrub=False``, context not scrubbed), in the same run.
Per string: ``Scrubber.scrub`` on clean and dirty strings, first sight (cache cleared) and
repeated (cached), against a baseline of ``str.lower`` on the same string.

    .venv/bin/python bench/scrub_bench.py [--batches 30]

Prints a table and writes bench/out/scrub.json (untracked).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.pipeline import Pipeline
from wasmwatch.ingest.scrub import Scrubber

NOW = int(time.time() * 1000)
TYPES = ["operation"] * 50 + ["engagement"] * 12 + ["memory"] * 10 + ["error"] * 6 + \
    ["bundle_load"] * 6 + ["runtime_init"] * 6 + ["offline_sync"] * 4 + ["feature"] * 4 + \
    ["measurement"] * 2
STACK = ("TypeError: x is undefined\n    at render (https://cdn.example.com/app-3f2a.js:{n}:17)\n"
         "    at wasm://wasm/6d7c9f1e:wasm-function[{f}]:0x5c2\n    at main (https://cdn.example.com/"
         "app-3f2a.js:1:{n})")


def _base36(n: int) -> str:
    digits = ""
    while True:
        n, r = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
        if not n:
            return digits


def make_item(rng: random.Random, i: int) -> dict[str, object]:
    kind = rng.choice(TYPES)
    base: dict[str, object] = {"id": f"k2j3h4g5.{_base36(i)}", "type": kind,  # as the SDK makes them
                               "ts": NOW - rng.randrange(10_000)}
    n = rng.randrange(200)  # a recurring error's message and stack repeat; 200 distinct ones
    extra: dict[str, dict[str, object]] = {
        "operation": {"name": f"op_{rng.randrange(40)}", "ms": rng.random() * 80},
        "engagement": {"visible_ms": 5000.0, "page": f"/posts/{rng.randrange(30)}"},
        "memory": {"wasm_bytes": 1 << 20},
        "error": {"kind": "TypeError", "message": f"x is undefined at row {n}",
                  "stack": STACK.format(n=n, f=n % 50), "operation": "render"},
        "bundle_load": {"total_ms": 300.0, "url": "https://cdn.example.com/app.wasm"},
        "runtime_init": {"ms": 120.0},
        "offline_sync": {"synced": 3},
        "feature": {"name": f"feature_{rng.randrange(20)}"},
        "measurement": {"name": "fps", "value": 60.0, "unit": "frames",
                        "tags": {"scene": f"s{rng.randrange(5)}"}},
    }
    return {**base, **extra[kind]}


def batches(count: int, size: int = 1000) -> list[list[bytes]]:
    rng = random.Random(7)
    return [[msgspec.json.encode(make_item(rng, b * size + i)) for i in range(size)]
            for b in range(count)]


def per_item_us(pipeline: Pipeline, data: list[list[bytes]]) -> float:
    ctx = s.Context(session="k2j3h4g5f6d7s8a9", release="1.4.2", page="/app", connection="4g",
                    sdk="0.1.0", user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0")
    start = time.process_time()
    n = 0
    for raw in data:
        batch = pipeline.batch(ctx, project="default", user_agent=None, sent_at=None, now_ms=NOW)
        chunk, rejected = pipeline.check([msgspec.Raw(r) for r in raw], batch, 0, typed=False)
        assert not rejected
        n += len(chunk.items)
    return (time.process_time() - start) / n * 1e6


def per_call_us(fn: Callable[[], object], seconds: float = 0.3) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            fn()
        n += 100
    return (time.perf_counter() - start) / n * 1e6


STRINGS = {
    "name (16 chars, clean)": "render_component",
    "message (59 chars, clean)": "TypeError: cannot read property 'x' of undefined at line 12",
    "message (50 chars, e-mail + IP)": "login failed for bob@example.com from 10.1.2.3",
    "stack (4 frames, 230 chars, clean)": STACK.format(n=1234, f=7),
}


def strings_table() -> list[dict[str, object]]:
    out = []
    for label, text in STRINGS.items():
        scrubber = Scrubber()
        first = per_call_us(lambda t=text, sc=scrubber: sc._scan(t))  # type: ignore[misc]
        cached = per_call_us(lambda t=text, sc=scrubber: sc.scrub(t))  # type: ignore[misc]
        base = per_call_us(lambda t=text: t.lower())  # type: ignore[misc]
        out.append({"string": label, "first_sight_us": round(first, 2), "cached_us": round(cached, 3),
                    "baseline_lower_us": round(base, 3)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    data = batches(args.batches)
    per_item_us(Pipeline(), data[:2])  # warm up caches and imports
    off = min(per_item_us(Pipeline(scrub=False), data) for _ in range(3))
    # a fresh scrubber each run: names enter its cache in the first batch, as in a server
    on = min(per_item_us(Pipeline(scrubber=Scrubber()), data) for _ in range(3))
    result = {
        "machine": f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} (shared)",
        "items": len(data) * 1000,
        "rows_us_per_item_scrub_off": round(off, 3),
        "rows_us_per_item_scrub_on": round(on, 3),
        "scrub_added_us_per_item": round(on - off, 3),
        "ratio_on_off": round(on / off, 3),
        "strings": strings_table(),
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "scrub.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

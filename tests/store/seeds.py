"""Seeded items shared by the store tests: every item type over the 3 h before ``NOW``, with
replays, in group commits (the conformance suite's data, also the rollup thread's)."""

from __future__ import annotations

from typing import Any

import numpy as np

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.columnar import Chunk, prepare
from wasmwatch.store.layout import batch_context

NOW = 1_764_000_000_000  # a whole hour
MINUTE = 60_000
HOUR = 3_600_000
RELEASES = ["1.0.0", "1.1.0", None]
BROWSERS = ["Chrome", "Firefox"]
OPS = ["render", "save", "load"]


def _context(project: str, release: str | None, browser: str, session: str) -> tuple[Any, ...]:
    return batch_context(project, NOW, session=session, release=release, page="/app",
                         connection="4g", device="desktop", browser=browser, browser_major=120,
                         os="Linux", online=True, sdk="0.1.0")


def _item(rng: np.random.Generator, i: int, ts: float) -> s.Item:
    kind = rng.choice(["operation"] * 5 + ["error", "memory", "bundle_load", "runtime_init",
                                           "engagement", "feature", "offline_sync", "measurement"])
    iid = f"it{i}"
    ms = float(np.round(rng.lognormal(3, 1.1), 3))
    if kind == "operation":
        return s.Operation(id=iid, ts=ts, name=str(rng.choice(OPS)), ms=ms, ok=bool(rng.random() > 0.1),
                           offline=bool(rng.random() < 0.2))
    if kind == "error":
        return s.Error(id=iid, ts=ts, kind=str(rng.choice(["unreachable", "TypeError"])),
                       category=str(rng.choice(["critical", "runtime", "application"])),  # type: ignore[arg-type]
                       message=f"failed at {int(rng.integers(0, 3))}", operation=str(rng.choice(OPS)),
                       stack=f"at f (app.wasm:wasm-function[{int(rng.integers(0, 2))}]:0x8d)")
    if kind == "memory":
        return s.Memory(id=iid, ts=ts, wasm_bytes=int(rng.integers(1, 20)) << 20)
    if kind == "bundle_load":
        return s.BundleLoad(id=iid, ts=ts, total_ms=ms * 20, cached=bool(rng.random() < 0.5),
                            transfer_bytes=int(rng.integers(1000, 5000)), url="/app.wasm")
    if kind == "runtime_init":
        return s.RuntimeInit(id=iid, ts=ts, ms=ms)
    if kind == "engagement":
        return s.Engagement(id=iid, ts=ts, visible_ms=ms * 100, online=bool(rng.random() < 0.7))
    if kind == "feature":
        return s.Feature(id=iid, ts=ts, name=str(rng.choice(["pdf", "share"])))
    if kind == "offline_sync":
        return s.OfflineSync(id=iid, ts=ts, synced=int(rng.integers(0, 9)), ms=ms,
                             pending=int(rng.integers(0, 200)), ok=bool(rng.random() > 0.2))
    return s.Measurement(id=iid, ts=ts, name="fps", value=float(rng.integers(20, 60)))


def seeded_chunks(n: int = 3000, seed: int = 7) -> list[list[Chunk]]:
    """``n`` items of every type over the 3 h before NOW (one in 20 repeated), in 4 commits."""
    rng = np.random.default_rng(seed)
    chunks: list[Chunk] = []
    for start in range(0, n, 100):
        items = [_item(rng, i, float(NOW - int(rng.integers(0, 3 * HOUR))))
                 for i in range(start, start + 100)]
        prepare(items)
        context = _context("p1", RELEASES[start // 100 % 3], BROWSERS[start // 300 % 2],
                           f"s{start // 200}")
        chunks.append(Chunk(context, items, 100))
    chunks += chunks[::20]  # replays: the same ids again, in a later commit
    return [chunks[i::4] for i in range(4)]

"""One suite, every store: the same seeded items give the same answers on DuckDB and ClickHouse.

Backends: ``duckdb`` (a real DuckDB file), ``chdb`` (the ClickHouse engine in process, through
clickhouse-connect's chdb backend) and ``clickhouse`` (a real server at ``CLICKHOUSE_URL``,
e.g. ``clickhouse://default:@127.0.0.1:8123/wasmwatch_test``; skipped when unset; see
docs/clickhouse.md). Items go in through each store's ``write`` (the writer's path: derivation,
duplicate detection, rollups), in several group commits; DuckDB's answers are the reference.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wasmwatch.alerts.rules import DEFAULT_RULES, load_rules
from wasmwatch.alerts.source import DuckDBSource
from wasmwatch.ingest import schema as s
from wasmwatch.ingest.columnar import Chunk, Prepared, prepare
from wasmwatch.query import error_groups, rollup, series, summary
from wasmwatch.store.duckdb import DuckDBStore
from wasmwatch.store.layout import batch_context
from wasmwatch.store.url import parse_store_url

pytest.importorskip("clickhouse_connect")
pytest.importorskip("chdb")
from wasmwatch.store.clickhouse import ClickHouseStore

NOW = 1_764_000_000_000  # a whole hour
MINUTE = 60_000
HOUR = 3_600_000
RELEASES = ["1.0.0", "1.1.0", None]
BROWSERS = ["Chrome", "Firefox"]
OPS = ["render", "save", "load"]
BACKENDS = ["chdb", "clickhouse"]


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


def _open(backend: str, root: Path) -> Any:
    if backend == "duckdb":
        return DuckDBStore(root / "duck", ddl=rollup.ROLLUP_DDL, after_insert=[rollup.apply],
                           recover=[rollup.rebuild], aggregate_columns=rollup.SOURCE_COLUMNS)
    if backend == "chdb":
        url = parse_store_url(f"chdb://{root / 'chdb'}", root)
    else:
        dsn = os.environ.get("CLICKHOUSE_URL")
        if not dsn:
            pytest.skip("CLICKHOUSE_URL is not set: no ClickHouse server to test against "
                        "(see docs/clickhouse.md)")
        url = parse_store_url(dsn, root)
    store = ClickHouseStore(url, root / backend, retention_days=0)
    for table in ("items", "rollup_minute", "rollup_hour", "rollup_hist_minute", "rollup_hist_hour"):
        store._client.command(f"TRUNCATE TABLE {table}")  # a server's database may be reused
    return store


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every backend, opened lazily, each written with the same commits once."""
    root = tmp_path_factory.mktemp("conformance")
    opened: dict[str, Any] = {}

    def get(backend: str) -> Any:
        if backend not in opened:
            store = _open(backend, root)
            store.duplicates = 0
            for group in seeded_chunks():
                written = store.write(Prepared(group))
                store.duplicates += int(written.duplicate.sum())
            store.flush(force=True)
            opened[backend] = store
        return opened[backend]

    yield {"get": get}
    for store in opened.values():
        store.close()


def same(a: Any, b: Any, path: str = "", approx: Callable[[str], bool] = lambda _: False) -> None:
    """Equal, floats to 1e-9 relative (sums in another order), with the path of a difference;
    floats at the paths ``approx`` names to 1 % (a rollup's percentile against an exact one)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            same(a[key], b[key], f"{path}.{key}", approx)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]", approx)
    elif isinstance(a, float) or isinstance(b, float):
        assert b is not None and a is not None, (path, a, b)
        tol = 0.01 if approx(path) else 1e-9
        assert math.isclose(float(a), float(b), rel_tol=tol, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b, (path, a, b)


@pytest.fixture(params=BACKENDS)
def pair(request: pytest.FixtureRequest, stores: dict[str, Any]) -> tuple[Any, Any]:
    """(DuckDB reference, the backend under test)."""
    return stores["get"]("duckdb"), stores["get"](request.param)


def test_same_items_and_duplicates(pair: tuple[Any, Any]) -> None:
    """Each store keeps every distinct item once and reports the replays as duplicates."""
    ref, other = pair
    assert ref.duplicates == other.duplicates == 2 * 100
    assert ref.stored_count() == other.stored_count() == 3000


@pytest.mark.parametrize("window_s", [900, 3600, 3 * 3600, 86400])
@pytest.mark.parametrize("filters", [{}, {"release": "1.1.0"}, {"operation": "render"}])
def test_same_summary(pair: tuple[Any, Any], window_s: int, filters: dict[str, str]) -> None:
    """Summaries agree: exact windows from raw rows, long ones from the rollup tables."""
    ref, other = pair
    args = {"project": "p1", "window_s": window_s, "now_ms": NOW, **filters}
    expected = summary(ref.reader(), **args)
    assert expected["events"], "the seeded data lies in the window"
    same(expected, summary(other.reader(), **args))


@pytest.mark.parametrize("metric", ["bundle_load", "operation", "errors", "memory", "events"])
@pytest.mark.parametrize(("window_s", "step_s"), [(3600, 60), (3600, 10), (6 * 3600, 300),
                                                  (86400, 3600)])
def test_same_series(pair: tuple[Any, Any], metric: str, window_s: int, step_s: int) -> None:
    """Series agree point by point, raw and rollup."""
    ref, other = pair
    args = {"project": "p1", "metric": metric, "window_s": window_s, "step_s": step_s,
            "now_ms": NOW}
    same(series(ref.reader(), **args), series(other.reader(), **args))


@pytest.mark.parametrize("filters", [{}, {"browser": "Firefox"}, {"release": "1.0.0"}])
def test_same_error_groups(pair: tuple[Any, Any], filters: dict[str, str]) -> None:
    """Error groups agree: counts, sessions, samples and releases."""
    ref, other = pair
    args = {"project": "p1", "window_s": 3 * 3600, "now_ms": NOW, "limit": 5, **filters}
    expected = error_groups(ref.reader(), **args)
    assert expected["groups"]
    same(expected, error_groups(other.reader(), **args))


EXTRA_RULES = load_rules([
    {"name": "p95_by_release", "kind": "threshold", "metric": "operation", "stat": "p95",
     "op": ">", "threshold": 10, "window": "1h", "group_by": ["release", "operation"]},
    {"name": "render_errors", "kind": "rate", "metric": "error_rate", "op": ">", "threshold": 0.01,
     "window": "30m", "where": {"operation": "render"}, "group_by": ["category"]},
])


@pytest.mark.parametrize("rule", [*DEFAULT_RULES, *EXTRA_RULES[-2:]], ids=lambda r: r.name)
def test_same_alert_windows(pair: tuple[Any, Any], rule: Any) -> None:
    """The alert engine refills its windows with the same buckets from either store."""
    ref, other = pair
    args = ("p1", NOW - 2 * HOUR, NOW, MINUTE)
    def key(b: Any) -> Any:
        return (b.t, b.key, b.denominator)
    expected = sorted(DuckDBSource(ref.reader).buckets(rule, *args), key=key)
    got = sorted(DuckDBSource(other.reader).buckets(rule, *args), key=key)
    assert expected or rule.metric in ("memory", "offline_pending", "bundle_load", "runtime_init") \
        or not got
    same([b.__dict__ for b in expected], [b.__dict__ for b in got])

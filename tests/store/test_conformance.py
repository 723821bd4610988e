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

import pytest

from tests.store.seeds import HOUR, MINUTE, NOW, seeded_chunks
from wasmwatch.alerts.rules import DEFAULT_RULES, load_rules
from wasmwatch.alerts.source import DuckDBSource
from wasmwatch.ingest.columnar import Prepared
from wasmwatch.query import error_groups, rollup, series, summary
from wasmwatch.store.duckdb import DuckDBStore
from wasmwatch.store.url import parse_store_url

pytest.importorskip("clickhouse_connect")
pytest.importorskip("chdb")
from wasmwatch.store.clickhouse import ClickHouseStore

BACKENDS = ["chdb", "clickhouse"]


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

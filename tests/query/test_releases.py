"""Releases side by side: phases per release, deltas against the previous one, flags at 1.5x."""

from __future__ import annotations

import duckdb
import numpy as np

from tests.query.conftest import MINUTE, NOW, PROJECT, op, row, write
from wasmwatch.query.releases import releases


def _load(release: str, ts: int, total: float, fetch: float, session: str,
          cached: bool = False, transfer: int = 1000) -> dict[str, object]:
    return row("bundle_load", ts, release=release, ms=total, fetch_ms=fetch, compile_ms=20.0,
               instantiate_ms=5.0, cached=cached, transfer_bytes=0 if cached else transfer,
               session=session)


def _seed(con: duckdb.DuckDBPyConnection, slow: float = 1.0) -> None:
    rows = []
    for i in range(10):
        rows.append(_load("1.0.0", NOW - 50 * MINUTE + i, 400.0, 300.0, f"a{i}"))
        rows.append(op("render", 10.0 + i, NOW - 49 * MINUTE + i, release="1.0.0"))
        rows.append(_load("1.1.0", NOW - 20 * MINUTE + i, 400.0 * slow, 300.0 * slow, f"b{i}",
                          transfer=2000))
        rows.append(op("render", (10.0 + i) * 2, NOW - 19 * MINUTE + i, release="1.1.0"))
        rows.append(op("save", 5.0, NOW - 19 * MINUTE + i, release="1.1.0"))
    write(con, rows)


def test_releases_compare_with_the_previous(con: duckdb.DuckDBPyConnection) -> None:
    """Newest first; each metric's ratio is its mean over the previous release's mean."""
    _seed(con, slow=1.2)
    body = releases(con, project=PROJECT, window_s=3600, now_ms=NOW)
    newest, oldest = body["releases"]
    assert (newest["release"], newest["previous"], oldest["previous"]) == ("1.1.0", "1.0.0", None)
    dl = newest["metrics"]["download_ms"]
    assert dl["count"] == 10 and abs(dl["mean"] - 360.0) < 1e-9
    assert abs(dl["ratio"] - 1.2) < 1e-9 and dl["regressed"] is False
    render = newest["operations"]["render"]
    assert abs(render["ratio"] - 2.0) < 1e-9 and render["regressed"] is True
    values = [(10.0 + i) * 2 for i in range(10)]
    assert abs(render["p95"] - float(np.percentile(values, 95))) < 1e-9
    assert newest["operations"]["save"]["ratio"] is None  # nothing to compare with
    assert newest["metrics"]["transfer_bytes"]["ratio"] == 2.0
    assert "operation:render" in newest["regressions"] and "transfer_bytes" in newest["regressions"]
    assert oldest["regressions"] == [] and oldest["metrics"]["download_ms"]["ratio"] is None


def test_a_slower_release_is_flagged_at_the_factor(con: duckdb.DuckDBPyConnection) -> None:
    """A release whose loads take 1.6x the previous mean is flagged; with factor 2 it is not."""
    _seed(con, slow=1.6)
    newest = releases(con, project=PROJECT, window_s=3600, now_ms=NOW)["releases"][0]
    assert newest["metrics"]["bundle_load_ms"]["regressed"] is True
    assert "download_ms" in newest["regressions"]
    lenient = releases(con, project=PROJECT, window_s=3600, now_ms=NOW, factor=2.5)["releases"][0]
    assert lenient["metrics"]["bundle_load_ms"]["regressed"] is False


def test_few_samples_are_not_flagged(con: duckdb.DuckDBPyConnection) -> None:
    """Below min_samples values in either release a ratio is shown but not flagged."""
    _seed(con, slow=3.0)
    newest = releases(con, project=PROJECT, window_s=3600, now_ms=NOW,
                      min_samples=11)["releases"][0]
    assert newest["metrics"]["bundle_load_ms"]["ratio"] == 3.0
    assert newest["regressions"] == []


def test_error_rate_regression(con: duckdb.DuckDBPyConnection) -> None:
    """The error rate is errors per operation, compared as a rate."""
    _seed(con)
    write(con, [row("error", NOW - 18 * MINUTE + i, release="1.1.0", kind="E", message="m")
                for i in range(6)])
    newest = releases(con, project=PROJECT, window_s=3600, now_ms=NOW)["releases"][0]
    er = newest["error_rate"]
    assert (er["errors"], er["operations"], er["rate"]) == (6, 20, 0.3)
    assert er["regressed"] is True and "error_rate" in newest["regressions"]


def test_a_slower_server_route_is_flagged(con: duckdb.DuckDBPyConnection) -> None:
    """Server routes are compared per release like operations and flagged as route:METHOD route."""
    rows = []
    for i in range(10):
        for release, ts, ms in (("1.0.0", NOW - 50 * MINUTE, 20.0), ("1.1.0", NOW - 20 * MINUTE, 40.0)):
            rows.append(row("server_request", ts + i, release=release, name="/api/save",
                            method="POST", status=200, ms=ms, ok=True, service="api"))
            rows.append(row("server_request", ts + i, release=release, name="/api/load",
                            method="GET", status=200, ms=10.0, ok=True, service="api"))
    write(con, rows)
    newest, oldest = releases(con, project=PROJECT, window_s=3600, now_ms=NOW)["releases"]
    save = newest["routes"]["POST /api/save"]
    assert save["count"] == 10 and save["ratio"] == 2.0 and save["regressed"] is True
    assert newest["routes"]["GET /api/load"]["regressed"] is False
    assert newest["regressions"] == ["route:POST /api/save"] and oldest["regressions"] == []

"""The summary: exact percentiles over raw rows, 1 %-accurate ones from the rollup, sections."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.query.conftest import HOUR, MINUTE, NOW, PROJECT, op, row, write
from wasmwatch.query import rollup, summary
from wasmwatch.query.exceptions import WindowError

TOLERANCE = 0.01 * (1 + 1e-9)
DAY_S = 86_400
RELEASES = ["1.0.0", "1.1.0", None]
BROWSERS = ["Chrome", "Firefox", "Safari"]
OPS = ["render", "save", "load"]

Distribution = Callable[[np.random.Generator, int], np.ndarray]
DISTRIBUTIONS: dict[str, Distribution] = {
    "lognormal": lambda rng, n: rng.lognormal(3, 1.2, n).clip(0, 60_000),
    "uniform": lambda rng, n: rng.uniform(0, 500, n),
    "ties": lambda rng, n: rng.integers(0, 5, n).astype(float),
    "zeros": lambda rng, n: np.where(rng.random(n) < 0.4, 0.0, rng.exponential(20, n).round(1)),
    "constant": lambda rng, n: np.full(n, 7.25),
    "bimodal": lambda rng, n: np.where(rng.random(n) < 0.9, rng.normal(10, 1, n).clip(0),
                                       rng.normal(900, 50, n)),
}


def _ms(values: np.ndarray) -> list[float]:
    return [float(v) for v in values]


def _check_exact(stats: dict[str, Any], values: np.ndarray) -> None:
    assert stats["count"] == len(values)
    for key, q in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)):
        assert stats[key] == pytest.approx(float(np.percentile(values, q)), rel=1e-12, abs=1e-9)
    assert stats["avg_ms"] == pytest.approx(float(np.mean(values)), rel=1e-12)


def _check_close(stats: dict[str, Any], values: np.ndarray) -> None:
    assert stats["count"] == len(values)
    for key, q in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)):
        exact = float(np.percentile(values, q))
        assert abs(stats[key] - exact) <= TOLERANCE * exact + 1e-12, (key, stats[key], exact)
    assert stats["avg_ms"] == pytest.approx(float(np.mean(values)), rel=1e-9)


def _mixed(rng: np.random.Generator, n: int, start: int, end: int) -> list[dict[str, Any]]:
    """``n`` items of every type with random context between ``start`` and ``end``."""
    types = rng.choice(["operation"] * 6 + ["error", "memory", "bundle_load", "runtime_init",
                        "engagement", "feature", "offline_sync", "measurement"], n)
    out = []
    for k, type_ in enumerate(types):
        ts = int(rng.integers(start, end + 1))
        ctx = {"release": RELEASES[k % 3], "browser": BROWSERS[(k // 3) % 3],
               "session": f"s{k % 17}"}
        ms = float(rng.lognormal(3, 1))
        fields: dict[str, dict[str, Any]] = {
            "operation": {"name": OPS[k % 3], "ms": ms, "ok": bool(rng.random() > 0.1),
                          "offline": bool(rng.random() < 0.2)},
            "error": {"name": OPS[k % 3], "category": ["critical", "runtime"][k % 2],
                      "kind": "RuntimeError", "message": "boom", "fingerprint": "f1"},
            "memory": {"value": float(rng.integers(1, 100) * 65536)},
            "bundle_load": {"ms": ms * 10, "cached": bool(rng.random() < 0.5),
                            "transfer_bytes": int(rng.integers(0, 10**6)), "name": "/a.wasm"},
            "runtime_init": {"ms": ms},
            "engagement": {"ms": float(rng.integers(0, 60_000)), "name": ["/", "/x"][k % 2],
                           "offline": bool(rng.random() < 0.3)},
            "feature": {"name": ["export", "share"][k % 2]},
            "offline_sync": {"ms": ms, "ok": bool(rng.random() < 0.8),
                             "synced": int(rng.integers(0, 9)), "pending": int(rng.integers(0, 200))},
            "measurement": {"name": "fps", "value": 60.0},
        }
        out.append(row(str(type_), ts, **ctx, **fields[str(type_)]))
    return out


@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("n", [1, 2, 37, 2000])
def test_exact_percentiles_equal_numpy(con: duckdb.DuckDBPyConnection, dist: str, n: int) -> None:
    """Short-window percentiles equal numpy.percentile (linear) over the raw values."""
    rng = np.random.default_rng(n)
    values = DISTRIBUTIONS[dist](rng, n)
    write(con, [op("render", v, NOW - 1 - k % 1_800_000) for k, v in enumerate(_ms(values))])
    got = summary(con, project=PROJECT, window_s=3600, now_ms=NOW)
    assert got["approximate"] is False and got["source"] == "raw"
    _check_exact(got["operations"]["render"], values)


_projects = itertools.count()
_values = st.lists(st.one_of(st.just(0.0), st.sampled_from([1.0, 2.5, 60_000.0]),
                             st.floats(0, 60_000, allow_nan=False)), min_size=1, max_size=80)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=_values, long=st.booleans())
def test_percentiles_match_numpy_for_any_values(con: duckdb.DuckDBPyConnection,
                                                values: list[float], long: bool) -> None:
    """Raw percentiles equal numpy's and rollup ones are within 1 %, for any values."""
    project = f"h{next(_projects)}"  # a fresh project per example: the file is shared
    write(con, [op("render", v, NOW - 1 - k * 1000, project=project)
                for k, v in enumerate(values)])
    got = summary(con, project=project, window_s=DAY_S if long else 3600, now_ms=NOW)
    check = _check_close if long else _check_exact
    check(got["operations"]["render"], np.array(values))


@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
def test_rollup_percentiles_within_one_percent(con: duckdb.DuckDBPyConnection, dist: str) -> None:
    """24 h percentiles from the rollup are within 1 % of numpy over the same raw values."""
    rng = np.random.default_rng(11)
    now = NOW + 17 * MINUTE + 5_000
    values = DISTRIBUTIONS[dist](rng, 3000)
    ts = rng.integers(now - DAY_S * 1000, now + 1, len(values))
    write(con, [op("render", v, int(t)) for v, t in zip(_ms(values), ts, strict=True)],
          batch_size=700)
    got = summary(con, project=PROJECT, window_s=DAY_S, now_ms=now)
    assert (got["approximate"], got["relative_error"], got["source"]) == (True, 0.01, "rollup")
    _check_close(got["operations"]["render"], values)
    exact = summary(con, project=PROJECT, window_s=DAY_S, now_ms=now, exact=True)
    assert exact["source"] == "raw"
    _check_exact(exact["operations"]["render"], values)


def test_rollup_bundle_and_runtime_percentiles(con: duckdb.DuckDBPyConnection) -> None:
    """Bundle load (overall and by release) and runtime init percentiles are within 1 %."""
    rng = np.random.default_rng(5)
    loads = rng.lognormal(6, 0.8, 900)
    releases = [RELEASES[k % 3] for k in range(len(loads))]
    inits = rng.gamma(2, 60, 400)
    write(con, [row("bundle_load", NOW - 1 - k * 60_000, ms=v, release=r)
                for k, (v, r) in enumerate(zip(_ms(loads), releases, strict=True))]
          + [row("runtime_init", NOW - 7 - k * 100_000, ms=v) for k, v in enumerate(_ms(inits))])
    got = summary(con, project=PROJECT, window_s=2 * DAY_S, now_ms=NOW)
    _check_close(got["bundle_load"], loads)
    _check_close(got["runtime_init"], inits)
    for label, release in (("1.0.0", "1.0.0"), ("unknown", None)):
        mask = np.array([r == release for r in releases])
        _check_close(got["bundle_load"]["by_release"][label], loads[mask])


def _without_percentiles(answer: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(answer, sort_keys=True, allow_nan=False)
    clean = json.loads(text)
    for key in ("approximate", "relative_error", "source", "from_ms"):
        clean.pop(key)

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items()
                    if k not in ("p50_ms", "p95_ms", "p99_ms", "avg_ms")}
        if isinstance(node, float):
            return round(node, 6)
        return node

    return strip(clean)  # type: ignore[no-any-return]


def test_rollup_counts_equal_raw_counts(con: duckdb.DuckDBPyConnection) -> None:
    """Counts, sums, rates, memory, offline and engagement from the rollup equal the raw ones."""
    rng = np.random.default_rng(3)
    write(con, _mixed(rng, 4000, NOW - DAY_S * 1000, NOW), batch_size=333)
    approx = summary(con, project=PROJECT, window_s=DAY_S, now_ms=NOW)
    exact = summary(con, project=PROJECT, window_s=DAY_S, now_ms=NOW, exact=True)
    assert _without_percentiles(approx) == _without_percentiles(exact)
    assert approx["events"]["operation"] > 1000
    rollup.compact(con, NOW + HOUR)
    assert _without_percentiles(
        summary(con, project=PROJECT, window_s=DAY_S, now_ms=NOW)) == _without_percentiles(exact)


@pytest.mark.parametrize("window_s", [3600, DAY_S])
def test_error_rate_is_zero_without_operations(con: duckdb.DuckDBPyConnection,
                                               window_s: int) -> None:
    """With errors but no operations the error rate is 0, raw or rollup."""
    write(con, [row("error", NOW - 1000, category="critical", kind="E", fingerprint="f")])
    errors = summary(con, project=PROJECT, window_s=window_s, now_ms=NOW)["errors"]
    assert errors == {"count": 1, "rate": 0.0, "by_category": {"critical": 1}}


@pytest.mark.parametrize("window_s", [3600, DAY_S])
def test_error_rate_is_errors_over_operations(con: duckdb.DuckDBPyConnection,
                                              window_s: int) -> None:
    """The error rate is error items over operation items."""
    write(con, [op("render", 1.0, NOW - 1000 - k) for k in range(8)]
          + [row("error", NOW - 2000, category="runtime", kind="E") for _ in range(2)])
    assert summary(con, project=PROJECT, window_s=window_s, now_ms=NOW)["errors"]["rate"] == 0.25


def test_empty_store_answers_zeros_and_nones(con: duckdb.DuckDBPyConnection) -> None:
    """With no data every section is present, counts are 0 and undefined stats None."""
    for window_s in (3600, DAY_S):
        got = summary(con, project=PROJECT, window_s=window_s, now_ms=NOW)
        json.dumps(got, allow_nan=False)
        assert got["events"] == {} and got["operations"] == {} and got["features"] == {}
        assert got["bundle_load"]["count"] == 0 and got["bundle_load"]["p50_ms"] is None
        assert got["runtime_init"]["avg_ms"] is None
        assert got["errors"] == {"count": 0, "rate": 0.0, "by_category": {}}
        assert got["memory"] == {"last_bytes": None, "max_bytes": None}
        assert got["offline"]["sync_success_rate"] is None


@pytest.mark.parametrize("window_s", [3600, DAY_S])
@pytest.mark.parametrize(("filters", "expected", "errors"), [
    ({"release": "1.1.0"}, {"render": 2, "save": 1}, 0),
    ({"browser": "Firefox"}, {"render": 1, "save": 2}, 1),
    ({"operation": "save"}, {"save": 3}, 1),
    ({"release": "1.0.0", "browser": "Firefox", "operation": "render"}, {"render": 1}, 0),
])
def test_filters_narrow_the_summary(con: duckdb.DuckDBPyConnection, window_s: int,
                                    filters: dict[str, str], expected: dict[str, int],
                                    errors: int) -> None:
    """release, browser and operation filters narrow the answer, raw and rollup alike."""
    t = NOW - 5 * MINUTE
    write(con, [
        op("render", 1.0, t, release="1.0.0", browser="Chrome"),
        op("render", 2.0, t, release="1.0.0", browser="Firefox"),
        op("render", 3.0, t, release="1.1.0", browser="Chrome"),
        op("render", 4.0, t, release="1.1.0", browser="Chrome"),
        op("save", 5.0, t, release="1.0.0", browser="Firefox"),
        op("save", 6.0, t, release="1.1.0", browser="Firefox"),
        op("save", 7.0, t, release="1.0.0", browser="Safari"),
        row("error", t, name="save", category="runtime", kind="E", release="1.0.0",
            browser="Firefox"),
        row("feature", t, name="export", release="1.0.0", browser="Chrome"),
    ])
    got = summary(con, project=PROJECT, window_s=window_s, now_ms=NOW, **filters)
    assert {k: v["count"] for k, v in got["operations"].items()} == expected
    assert got["errors"]["count"] == errors
    if set(filters) == {"operation"}:
        assert got["features"] == {"export": 1}


def test_other_projects_are_not_counted(con: duckdb.DuckDBPyConnection) -> None:
    """Only the asked project's items count."""
    write(con, [op("render", 1.0, NOW - 1000), op("render", 1.0, NOW - 1000, project="p2")])
    for window_s in (3600, DAY_S):
        got = summary(con, project="p2", window_s=window_s, now_ms=NOW)
        assert got["events"] == {"operation": 1}


def test_window_bounds(con: duckdb.DuckDBPyConnection) -> None:
    """Raw answers count items with now - window <= ts <= now, nothing older or later."""
    write(con, [op("render", 1.0, NOW - HOUR - 1), op("render", 1.0, NOW - HOUR),
                op("render", 1.0, NOW), op("render", 1.0, NOW + 1)])
    got = summary(con, project=PROJECT, window_s=3600, now_ms=NOW)
    assert got["operations"]["render"]["count"] == 2
    assert (got["from_ms"], got["to_ms"]) == (NOW - HOUR, NOW)


def test_sections_from_known_items(con: duckdb.DuckDBPyConnection) -> None:
    """Memory, offline, engagement (page else batch page), features and bundle add up."""
    t = NOW - 10 * MINUTE
    write(con, [
        row("memory", t + 1, value=3.0 * 2**20), row("memory", t + 9, value=2.0 * 2**20),
        row("memory", t + 5, value=8.0 * 2**20),
        op("render", 1.0, t, offline=True), op("render", 1.0, t, ok=False),
        row("offline_sync", t + 1, ok=True, synced=4, pending=10),
        row("offline_sync", t + 2, ok=False, synced=0, pending=7),
        row("engagement", t, ms=1000.0, offline=False, name="/"),
        row("engagement", t, ms=200.0, offline=True, name="/x"),
        row("engagement", t, ms=50.0, offline=True, page="/x"),
        row("feature", t, name="share"), row("feature", t, name="share"),
        row("feature", t, name="export"),
        row("bundle_load", t, ms=100.0, cached=True, transfer_bytes=0),
        row("bundle_load", t, ms=900.0, cached=False, transfer_bytes=2_000_000),
    ])
    for window_s in (3600, DAY_S):
        got = summary(con, project=PROJECT, window_s=window_s, now_ms=NOW)
        assert got["memory"] == {"last_bytes": 2 * 2**20, "max_bytes": 8 * 2**20}
        assert got["offline"] == {"operations": 1, "syncs": 2, "sync_success_rate": 0.5,
                                  "synced": 4, "pending": 7}
        assert got["engagement"] == {"visible_ms_total": 1250.0, "online_ms": 1000.0,
                                     "offline_ms": 250.0, "by_page": {"/": 1000.0, "/x": 250.0}}
        assert got["features"] == {"share": 2, "export": 1}
        assert got["operations"]["render"]["errors"] == 1
        assert got["operations"]["render"]["offline"] == 1
        bundle = got["bundle_load"]
        assert (bundle["count"], bundle["cached_ratio"], bundle["bytes_total"]) == (2, 0.5,
                                                                                   2_000_000)
        assert bundle["avg_ms"] == 500.0


def test_long_window_exact_reads_raw(con: duckdb.DuckDBPyConnection) -> None:
    """exact=True answers a long window from raw rows and says so."""
    write(con, [op("render", 1.0, NOW - 2 * HOUR)])
    got = summary(con, project=PROJECT, window_s=DAY_S, now_ms=NOW, exact=True)
    assert (got["approximate"], got["source"], got["relative_error"]) == (False, "raw", 0.0)


def test_nonpositive_window_is_rejected(con: duckdb.DuckDBPyConnection) -> None:
    """A window of zero seconds raises WindowError."""
    with pytest.raises(WindowError):
        summary(con, project=PROJECT, window_s=0, now_ms=NOW)


def test_last_values_across_keys(con: duckdb.DuckDBPyConnection) -> None:
    """The last memory value and sync backlog are the newest over every key (release, ok),
    from raw rows (read apart from the other counters) as from the rollup."""
    t = NOW - 10 * MINUTE
    write(con, [
        row("memory", t + 1, value=5.0, release="a"), row("memory", t + 3, value=2.0, release="b"),
        row("memory", t + 2, value=9.0, release="a"),
        row("offline_sync", t + 4, ok=False, synced=0, pending=3, release="a"),
        row("offline_sync", t + 6, ok=True, synced=1, pending=11, release="b"),
        row("offline_sync", t + 5, ok=True, synced=1, pending=8, release="a"),
    ])
    for window_s, exact in ((3600, False), (DAY_S, False), (DAY_S, True)):
        got = summary(con, project=PROJECT, window_s=window_s, now_ms=NOW, exact=exact)
        assert got["memory"] == {"last_bytes": 2, "max_bytes": 9}, (window_s, exact)
        assert got["offline"]["pending"] == 11
        only_a = summary(con, project=PROJECT, window_s=window_s, now_ms=NOW, exact=exact,
                         release="a")
        assert only_a["memory"] == {"last_bytes": 9, "max_bytes": 9}
        assert only_a["offline"]["pending"] == 8


def test_last_values_from_the_window_end(con: duckdb.DuckDBPyConnection) -> None:
    """A key whose newest value is in the window's last minutes takes it from there; one with
    only NULL values there still gets its newest non-NULL value from earlier in the window."""
    write(con, [
        row("memory", NOW - 30 * MINUTE, value=7.0, release="a"),
        row("memory", NOW - 40 * MINUTE, value=4.0, release="b"),
        row("memory", NOW - MINUTE, value=3.0, release="a"),
        row("memory", NOW - 2 * MINUTE, value=None, release="b"),
        row("offline_sync", NOW - 2 * MINUTE, ok=True, synced=1, pending=5, release="a"),
        row("memory", NOW - 3 * HOUR, value=6.0, release="c"),  # only the whole day has it
    ])
    got = summary(con, project=PROJECT, window_s=DAY_S, now_ms=NOW, release="c", exact=True)
    assert got["memory"] == {"last_bytes": 6, "max_bytes": 6}
    for window_s, exact in ((3600, False), (DAY_S, True)):  # one aggregate; last values apart
        for release, last in (("a", 3), ("b", 4), (None, 3)):
            got = summary(con, project=PROJECT, window_s=window_s, now_ms=NOW, release=release,
                          exact=exact)
            assert got["memory"]["last_bytes"] == last, (window_s, release)
        got = summary(con, project=PROJECT, window_s=window_s, now_ms=NOW, exact=exact)
        assert got["offline"]["pending"] == 5

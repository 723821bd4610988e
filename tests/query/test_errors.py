"""Error groups by fingerprint."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pytest

from tests.query.conftest import HOUR, NOW, PROJECT, row, write
from wasmwatch.query import error_groups
from wasmwatch.query.exceptions import QueryError


def _error(fingerprint: str, ts: int, **fields: Any) -> dict[str, Any]:
    return row("error", ts, **{
        "fingerprint": fingerprint, "kind": "RuntimeError", "category": "runtime",
        "message": f"{fingerprint} at {ts}", "stack": f"stack {ts}",
        "frame": f"wasm-function[{fingerprint}]", **fields})


def test_groups_by_fingerprint_with_samples(con: duckdb.DuckDBPyConnection) -> None:
    """A group counts its errors and sessions, spans first to last seen, samples the latest."""
    write(con, [
        _error("a", NOW - 3000, session="s1", release="1.0.0"),
        _error("a", NOW - 1000, session="s2", release="1.1.0", name="render"),
        _error("a", NOW - 2000, session="s1", release="1.0.0", category="critical"),
        _error("b", NOW - 500, session="s3", release=None),
    ])
    got = error_groups(con, project=PROJECT, window_s=3600, now_ms=NOW)
    json.dumps(got, allow_nan=False)
    assert (got["total"], got["group_count"]) == (4, 2)
    first = got["groups"][0]
    assert first == {
        "fingerprint": "a", "count": 3, "sessions": 2, "first_seen": NOW - 3000,
        "last_seen": NOW - 1000, "kind": "RuntimeError", "category": "runtime",
        "message": f"a at {NOW - 1000}", "stack": f"stack {NOW - 1000}",
        "frame": "wasm-function[a]", "operation": "render", "releases": ["1.0.0", "1.1.0"],
    }
    assert got["groups"][1]["fingerprint"] == "b" and got["groups"][1]["releases"] == []


def test_groups_come_most_frequent_first_up_to_limit(con: duckdb.DuckDBPyConnection) -> None:
    """Groups are ordered by count, then latest; limit caps them but not the totals."""
    write(con, [_error("rare", NOW - 10)]
          + [_error("often", NOW - 100 - k) for k in range(5)]
          + [_error("some", NOW - 200 - k) for k in range(2)])
    got = error_groups(con, project=PROJECT, window_s=3600, now_ms=NOW, limit=2)
    assert [g["fingerprint"] for g in got["groups"]] == ["often", "some"]
    assert (got["total"], got["group_count"]) == (8, 3)


def test_window_and_filters_narrow_groups(con: duckdb.DuckDBPyConnection) -> None:
    """Errors outside the window, of other projects or not matching filters are left out."""
    write(con, [_error("old", NOW - 2 * HOUR), _error("other", NOW - 10, project="p2"),
                _error("x", NOW - 10, release="2.0.0"), _error("y", NOW - 10, release="1.0.0"),
                row("operation", NOW - 10, name="render", ms=1.0)])
    got = error_groups(con, project=PROJECT, window_s=3600, now_ms=NOW, release="2.0.0")
    assert [g["fingerprint"] for g in got["groups"]] == ["x"]
    everything = error_groups(con, project=PROJECT, window_s=3600, now_ms=NOW)
    assert {g["fingerprint"] for g in everything["groups"]} == {"x", "y"}


def test_no_errors_answer_empty(con: duckdb.DuckDBPyConnection) -> None:
    """Without errors the answer has no groups and zero totals."""
    got = error_groups(con, project=PROJECT, window_s=3600, now_ms=NOW)
    assert (got["groups"], got["total"], got["group_count"]) == ([], 0, 0)


def test_bad_limit_is_rejected(con: duckdb.DuckDBPyConnection) -> None:
    """A limit below 1 raises QueryError."""
    with pytest.raises(QueryError):
        error_groups(con, project=PROJECT, window_s=3600, now_ms=NOW, limit=0)


def test_breakdown_of_every_group_equals_the_listed_one(con: duckdb.DuckDBPyConnection) -> None:
    """With every group listed, the breakdown read without the fingerprint list is the same,
    groups without a fingerprint included (they get none either way)."""
    from wasmwatch.query.error_breakdown import breakdown
    from wasmwatch.query.sources import Filters

    write(con, [
        *(_error("a", NOW - k * 60_000, session=f"s{k % 3}", release=f"1.{k % 2}.0",
                 browser=("Chrome", "Firefox")[k % 2]) for k in range(1, 30)),
        *(_error("b", NOW - k * 90_000, session="s9") for k in range(1, 5)),
        _error("", NOW - 5000), row("error", NOW - 4000, kind="TypeError", message="no print"),
    ])
    answers = []
    for every in (False, True):
        got = error_groups(con, project=PROJECT, window_s=3600, now_ms=NOW)
        assert got["group_count"] == len(got["groups"]) == 4
        breakdown(con, Filters(PROJECT), got["from_ms"], got["to_ms"], got["groups"], every=every)
        answers.append(got)
    assert answers[0] == answers[1]
    by_fp = {g["fingerprint"]: g for g in answers[1]["groups"]}
    assert by_fp["a"]["by_release"] == {"1.0.0": 14, "1.1.0": 15}
    assert by_fp[""]["by_release"] == {} and by_fp[None]["trend"] == [0] * 24

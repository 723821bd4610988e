"""The ClickHouse dialect seam: parameters bound safely, DuckDB constructs rewritten."""

from __future__ import annotations

import pytest

pytest.importorskip("sqlglot")

from wasmwatch.errors import StoreError
from wasmwatch.store import chsql


def test_parameters_are_bound_as_escaped_literals() -> None:
    """Quotes and backslashes in a value stay inside its literal; a ? inside quotes is text."""
    sql = chsql.translate("SELECT '?' AS q, name FROM items WHERE name = ? AND ts > ?",
                          ["o'k\\", 5])
    assert "'?' AS q" in sql
    assert "name = 'o\\'k\\\\'" in sql and "ts > 5" in sql  # ClickHouse's escapes


def test_parameter_count_must_match() -> None:
    """Too few or too many parameters are an error, not a silently wrong query."""
    with pytest.raises(StoreError, match="too few"):
        chsql.translate("SELECT ? FROM items", [])
    with pytest.raises(StoreError, match="too many"):
        chsql.translate("SELECT 1 FROM items", [1])


@pytest.mark.parametrize(("duck", "clickhouse"), [
    ("SELECT quantile_cont(ms, [0.5, 0.99]) FROM items",
     "quantilesExactInclusive(0.5, 0.99)(ms)"),
    ("SELECT quantile_cont(ms, 0.5) FROM items", "quantileExactInclusive(0.5)(ms)"),
    ("SELECT ts // 60000 FROM items", "intDiv(ts, 60000)"),
    ("SELECT list(bin ORDER BY bin) FROM items", "arraySort(groupArray((bin, bin)))"),
    ("SELECT histogram(x) FROM items", "sumMap(map(assumeNotNull(x), toUInt64(1)))"),
    ("SELECT list_sort(list_distinct(list(r)))[1:20] FROM items",
     "arraySlice(arraySort(groupUniqArray(r)), 1, 20)"),
])
def test_rewrites(duck: str, clickhouse: str) -> None:
    """Each DuckDB construct the query layer uses becomes its ClickHouse equivalent."""
    assert clickhouse in chsql.translate(duck)


def test_a_value_looking_like_a_marker_stays_a_value() -> None:
    """Values are put in after translation, once: a value that looks like a parameter marker
    is not replaced again."""
    sql = chsql.translate("SELECT x FROM items WHERE a = ? AND b = ?", ["'__ww_p1__'", 7])
    assert sql.endswith("a = '\\'__ww_p1__\\'' AND b = 7")


def test_nan_reads_as_none() -> None:
    """ClickHouse's quantile of nothing (NaN) reads as DuckDB's NULL, in arrays too."""
    assert chsql.clean(float("nan")) is None
    assert chsql.clean([1.0, float("nan")]) == [1.0, None]

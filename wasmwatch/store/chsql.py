"""The ClickHouse dialect seam: the query layer's DuckDB SQL, rewritten for ClickHouse.

The query modules (:mod:`wasmwatch.query`, :mod:`wasmwatch.alerts.source`) write DuckDB SQL
with ``?`` parameters. :func:`translate` binds the parameters as literals, parses the text with
sqlglot's DuckDB dialect and prints it in ClickHouse's, after rewriting the few constructs
whose meaning sqlglot does not carry over:

==============================  ==============================================================
DuckDB                          ClickHouse
==============================  ==============================================================
``quantile_cont(x, [q, ...])``  ``quantilesExactInclusive(q, ...)(x)`` (exact, linear
                                interpolation between order statistics: the same numbers)
``quantile_cont(x, q)``         ``quantileExactInclusive(q)(x)``
``a // b``                      ``intDiv(a, b)`` (floor for the non-negative times we divide)
``list(x ORDER BY k)``          ``arrayMap(p -> p.2, arraySort(groupArray((k, x))))``
``histogram(x)``                ``sumMap(map(x, 1))`` (a map of value to count)
``list_sort(list_distinct(list(x)))[a:b]``  ``arraySlice(arraySort(groupUniqArray(x)), a, b-a+1)``
``list_sort(x)``                ``arraySort(x)``
==============================  ==============================================================

Results come back with NaN (ClickHouse's quantile of nothing) turned into ``None``, as DuckDB
gives. Anything else that does not translate raises :class:`~wasmwatch.errors.StoreError`
naming the SQL, so a missing rewrite is found by the conformance tests, not by a user.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from typing import Any

import sqlglot
from sqlglot import exp

from wasmwatch.errors import StoreError

__all__ = ["clean", "literal", "translate"]


def literal(value: Any) -> str:
    """A Python value as a DuckDB SQL literal (parsed again by sqlglot, then re-escaped)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise StoreError(f"cannot bind {value!r} as a SQL literal")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, _Mark):
        return f"'__ww_p{value.i}__'"
    raise StoreError(f"cannot bind a {type(value).__name__} as a SQL literal")


def bind(sql: str, params: Sequence[Any]) -> str:
    """Replace each ``?`` outside string literals and comments by its parameter's literal."""
    out: list[str] = []
    values = iter(params)
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "'":
            end = i + 1
            while end < n:
                if sql[end] == "'" and (end + 1 >= n or sql[end + 1] != "'"):
                    break
                end += 2 if sql[end] == "'" else 1
            out.append(sql[i:end + 1])
            i = end + 1
            continue
        if ch == "?":
            try:
                out.append(literal(next(values)))
            except StopIteration as exc:
                raise StoreError(f"too few parameters for SQL: {sql[:200]}") from exc
        else:
            out.append(ch)
        i += 1
    if next(values, _END) is not _END:
        raise StoreError(f"too many parameters for SQL: {sql[:200]}")
    return "".join(out)


_END = object()


def _quantiles(node: exp.PercentileCont) -> exp.Expr:
    qs = node.expression
    if isinstance(qs, exp.Array):
        args = ", ".join(q.sql("clickhouse") for q in qs.expressions)
        return exp.Anonymous(this=f"quantilesExactInclusive({args})", expressions=[node.this])
    return exp.Anonymous(this=f"quantileExactInclusive({qs.sql('clickhouse')})",
                         expressions=[node.this])


def _ordered_list(node: exp.ArrayAgg) -> exp.Expr:
    inner = node.this
    if not isinstance(inner, exp.Order):
        return exp.Anonymous(this="groupArray", expressions=[inner])
    value = inner.this
    keys = [o.this for o in inner.expressions]
    if any(o.args.get("desc") for o in inner.expressions) or len(keys) != 1:
        raise StoreError("list(... ORDER BY ...) takes one ascending key on ClickHouse")
    pairs = exp.Anonymous(this="groupArray", expressions=[exp.Tuple(expressions=[keys[0], value])])
    return sqlglot.parse_one(f"arrayMap(p -> p.2, arraySort({pairs.sql('clickhouse')}))",
                             read="clickhouse")


def _slice(node: exp.Bracket) -> exp.Expr | None:
    """``list_sort(list_distinct(list(x)))[a:b]`` -> a sorted distinct array, sliced."""
    target = node.this
    if not (isinstance(target, exp.ArraySort) and isinstance(target.this, exp.ArrayDistinct)
            and isinstance(target.this.this, exp.ArrayAgg)):
        return None
    (bounds,) = node.expressions
    if not isinstance(bounds, exp.Slice):
        return None
    low, high = int(bounds.this.name), int(bounds.expression.name)
    column = target.this.this.this.sql("clickhouse")
    return sqlglot.parse_one(
        f"arraySlice(arraySort(groupUniqArray({column})), {low}, {high - low + 1})", read="clickhouse")


def _rewrite(node: exp.Expression) -> exp.Expr:
    if isinstance(node, exp.PercentileCont):
        return _quantiles(node)
    if isinstance(node, exp.IntDiv):
        return exp.Anonymous(this="intDiv", expressions=[node.this, node.expression])
    if isinstance(node, exp.Bracket):
        return _slice(node) or node
    if isinstance(node, exp.ArrayAgg):
        return _ordered_list(node)
    if isinstance(node, exp.ArraySort) and not node.expression:
        return exp.Anonymous(this="arraySort", expressions=[node.this])
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "histogram":
        (value,) = node.expressions
        return sqlglot.parse_one(f"sumMap(map(assumeNotNull({value.sql('clickhouse')}), toUInt64(1)))",
                                 read="clickhouse")
    return node


_MARK = re.compile(r"'__ww_p(\d+)__'")


def ch_literal(value: Any) -> str:
    """A Python value as a ClickHouse SQL literal (backslash and quote escaped)."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(ch_literal(v) for v in value) + "]"
    return literal(value)


@functools.lru_cache(maxsize=1024)
def _template(marked: str) -> str:
    """The ClickHouse text of DuckDB SQL whose parameters are marker strings (parsing and
    printing cost tens of ms a query; the query layer's texts repeat, their values do not)."""
    try:
        tree = sqlglot.parse_one(marked, read="duckdb")
        return str(tree.transform(_rewrite).sql("clickhouse"))
    except sqlglot.errors.SqlglotError as exc:
        raise StoreError(f"cannot translate SQL for ClickHouse: {exc}") from exc


def translate(sql: str, params: Sequence[Any] = ()) -> str:
    """DuckDB SQL with ``?`` parameters as one ClickHouse statement with literals."""
    marked = bind(sql, [_Mark(i) for i in range(len(params))])
    values = [ch_literal(v) for v in params]
    return _MARK.sub(lambda m: values[int(m.group(1))], _template(marked))


class _Mark:
    """Stands for parameter ``i`` while the text is translated."""

    def __init__(self, i: int) -> None:
        self.i = i


def clean(value: Any) -> Any:
    """A result value as DuckDB would give it: NaN is ``None``, in lists too."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value

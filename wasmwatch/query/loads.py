"""Bundle loads split into first (network) and cached loads, read from raw items.

The rollup keeps no per-``cached`` histogram, and bundle loads are few (one per page load), so
the split is always exact, from raw ``bundle_load`` rows, whatever the window. Percentiles are
DuckDB's ``quantile_cont`` (numpy's ``linear``), as in the exact summary.
"""

from __future__ import annotations

from typing import Any

from wasmwatch.query.sources import Filters, raw_items

__all__ = ["bundle_split"]

Json = dict[str, Any]

_COLUMNS = ("cached", "ms", "transfer_bytes", "compile_ms", "instantiate_ms")

_SQL = """
SELECT grouping(c) AS whole, c, count(*), quantile_cont(ms, [0.5, 0.95, 0.99]), avg(ms),
  CAST(sum(transfer_bytes) AS BIGINT), quantile_cont(compile_ms + instantiate_ms, 0.95)
FROM (SELECT coalesce(cached, false) AS c, * FROM {items} WHERE {where} AND type = 'bundle_load')
GROUP BY GROUPING SETS ((c), ())"""


def _stats(row: tuple[Any, ...] | None) -> Json:
    count, qs, avg, transfer = (row[2], row[3], row[4], row[5]) if row else (0, None, None, 0)
    p50, p95, p99 = qs if qs else (None, None, None)
    return {"count": int(count), "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "avg_ms": avg,
            "bytes_total": int(transfer or 0)}


def bundle_split(con: Any, filters: Filters, from_ms: int, to_ms: int) -> Json:
    """``{"first": stats, "cached": stats, "compile_instantiate_p95_ms": ms}`` of the range."""
    items, where = raw_items(from_ms, to_ms, con, _COLUMNS, ('bundle_load',)), filters.where()
    sql = _SQL.format(items=items.text, where=where.text)
    rows = con.execute(sql, [*items.params, *where.params]).fetchall()
    by_key = {(bool(r[0]), r[1]): r for r in rows}
    whole = by_key.get((True, None))
    return {
        "first": _stats(by_key.get((False, False))),
        "cached": _stats(by_key.get((False, True))),
        "compile_instantiate_p95_ms": whole[6] if whole else None,
    }

"""Bundle loads split into first (network) and cached loads.

Like the rest of a summary: an exact summary (a window up to an hour, or ``exact=true``) reads
it from raw ``bundle_load`` rows (:func:`bundle_split`, percentiles DuckDB's
``quantile_cont``, numpy's ``linear``); a rollup summary from the rollup's counter rows (keyed
by ``cached``: counts, averages and bytes exact) and its histograms (per first-or-cached, and
of compile + instantiate ms: percentiles within 1 %), see :func:`rollup_split`. The ClickHouse
store's rollup keeps no split: it always reads raw loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wasmwatch.query.rollup import CI_TYPE
from wasmwatch.query.sources import Filters, raw_items

__all__ = ["bundle_split", "rollup_split"]

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


def _from_rollup(counters: list[Any], latency: Any) -> Json:
    ms_n = sum(c.ms_n for c in counters)
    p50, p95, p99 = latency if latency is not None else (None, None, None)
    return {"count": sum(c.n for c in counters), "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
            "avg_ms": sum(c.ms_sum or 0.0 for c in counters) / ms_n if ms_n else None,
            "bytes_total": sum(c.bytes_sum or 0 for c in counters)}


def rollup_split(counters: Iterable[Any], latency: Mapping[tuple[str, str, str | None], Any]) -> Json:
    """:func:`bundle_split`'s answer from a rollup window's counters and percentiles (those of
    :mod:`.summary`: groups ``("bundle_load", "cached", "first" | "cached")`` and
    ``(CI_TYPE, "main", None)``)."""
    loads = [c for c in counters if c.type == "bundle_load"]
    ci = latency.get((CI_TYPE, "main", None))
    return {
        "first": _from_rollup([c for c in loads if not c.cached],
                              latency.get(("bundle_load", "cached", "first"))),
        "cached": _from_rollup([c for c in loads if c.cached],
                               latency.get(("bundle_load", "cached", "cached"))),
        "compile_instantiate_p95_ms": ci[1] if ci is not None else None,
    }

"""A commit's rows into a rule's windows a column at a time: the commit hook's fast path.

:func:`gather` does for an Arrow table what ``_Series._gather`` plus ``_Series._bucket`` do for
``Row`` values: filter by the rule's ``where``, drop rows without a value, and reduce the rest
per (label set, bucket index) to one :class:`~wasmwatch.alerts.window.Bucket` (count, sum,
extremes, the value at the latest ``ts``, and the sketch bins for percentile rules), with Arrow
kernels; Python runs once per group, not once per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from wasmwatch.alerts.window import Bucket
from wasmwatch.query.sketch import LN_GAMMA, MIN_POSITIVE, ZERO_BIN
from wasmwatch.store.by_type import by_type

__all__ = ["gather", "select"]

Key = tuple[Any, ...]
# the operation label of operations and errors is their name, the route of server items too
_ATTR = {"operation": "name", "route": "name"}


def _column(label: str) -> str:
    return _ATTR.get(label, label)


def select(table: pa.Table, item_type: str, measurement: str | None,
           where: Sequence[tuple[str, str]]) -> pa.Table:
    """The rows of ``item_type`` (and of ``measurement`` by name) matching ``where``."""
    table = by_type(table).get(item_type, table.slice(0, 0))  # split once per commit
    if measurement is None and not where:
        return table
    # the split holds only item_type's rows: the type needs no second test here
    tests = ([] if measurement is None
             else [pc.equal(table["name"], pa.scalar(measurement, pa.string()))])
    tests += [pc.equal(pc.cast(table[_column(label)], pa.string()), pa.scalar(wanted, pa.string()))
              for label, wanted in where]
    mask = tests[0]
    for test in tests[1:]:
        mask = pc.and_kleene(mask, test)
    return table.filter(pc.fill_null(mask, False))


def _bins(values: np.ndarray) -> np.ndarray:
    """:func:`~wasmwatch.query.sketch.bin_of` of each value."""
    out = np.full(len(values), ZERO_BIN, dtype=np.int64)
    positive = values > MIN_POSITIVE
    out[positive] = np.ceil(np.log(values[positive]) / LN_GAMMA).astype(np.int64)
    return out


def gather(table: pa.Table, labels: Sequence[str], value: str | None, width: int,
           hist: bool) -> dict[tuple[Key, int], Bucket]:
    """Buckets by (label set, bucket index) of ``table``'s rows (``value`` None: each row
    counts 1.0); rows whose value is null are left out."""
    n = table.num_rows
    if not n:
        return {}
    if value is None:
        values = np.ones(n)
    else:
        col = table[value]
        if col.null_count:
            table = table.filter(pc.is_valid(col))
            n = table.num_rows
            if not n:
                return {}
        values = table[value].to_numpy().astype(np.float64)
    ts = table["ts"].to_numpy()
    keys = [_column(label) for label in labels]
    frame: dict[str, Any] = {f"k{i}": pc.cast(table[c], pa.string()) if c != "name" else table[c]
                             for i, c in enumerate(keys)}
    frame |= {"_idx": ts // width, "_v": values, "_ts": ts}
    if hist:
        frame["_bin"] = _bins(values)
    # newest first, so "first" is the value at the latest ts (the earliest arrival among equals)
    rows = pa.table(frame).sort_by([("_ts", "descending")])
    names = [f"k{i}" for i in range(len(keys))] + ["_idx"]
    grouped = rows.group_by(names, use_threads=False).aggregate(
        [("_v", "count"), ("_v", "sum"), ("_v", "max"), ("_v", "min"), ("_v", "first"),
         ("_ts", "max")])
    bins = _bin_counts(rows, names) if hist else {}
    out: dict[tuple[Key, int], Bucket] = {}
    cols = [grouped[c].to_pylist() for c in (*names, "_v_count", "_v_sum", "_v_max", "_v_min",
                                              "_v_first", "_ts_max")]
    nk = len(keys)
    for row in zip(*cols, strict=True):
        key, idx = tuple(row[:nk]), int(row[nk])
        count, total, high, low, last, last_ts = row[nk + 1:]
        out[(key, idx)] = Bucket(n=int(count), total=float(total), bins=bins.get((key, idx), {}),
                                 high=float(high), low=float(low), last=float(last),
                                 last_ts=int(last_ts))
    return out


def _bin_counts(rows: pa.Table, names: list[str]) -> dict[tuple[Key, int], dict[int, int]]:
    counted = rows.group_by([*names, "_bin"], use_threads=False).aggregate([("_v", "count")])
    cols = [counted[c].to_pylist() for c in (*names, "_bin", "_v_count")]
    nk = len(names) - 1
    out: dict[tuple[Key, int], dict[int, int]] = {}
    for row in zip(*cols, strict=True):
        out.setdefault((tuple(row[:nk]), int(row[nk])), {})[int(row[nk + 1])] = int(row[nk + 2])
    return out

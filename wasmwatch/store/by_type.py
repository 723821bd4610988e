"""A commit's rows split by item type once, for every commit hook that reads them by type.

The writer's Arrow table of a commit's rows holds each type's rows together (one part per
type), so each type's rows are a zero-copy slice; the metrics and each alert rule used to
filter the whole table by type again (half of those hooks' time at large commits, measured
in ``bench/RESULTS.md``). :func:`by_type` remembers the split of the last table it was given,
so all hooks of one commit share it; the writer calls :func:`forget` after them, so a large
commit's rows are not kept alive until the next one.
"""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa

__all__ = ["by_type", "forget"]

_last: list[tuple[pa.Table, dict[str, pa.Table]]] = []
_lock = threading.Lock()


def by_type(table: pa.Table) -> dict[str, pa.Table]:
    """``table``'s rows per value of its ``type`` column (rows keep their order)."""
    with _lock:
        if _last and _last[0][0] is table:
            return _last[0][1]
    split = _split(table)
    with _lock:
        _last[:] = [(table, split)]
    return split


def _split(table: pa.Table) -> dict[str, pa.Table]:
    if not table.num_rows:
        return {}
    coded = table["type"].combine_chunks().dictionary_encode()
    names = coded.dictionary.to_pylist()
    codes = coded.indices.to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))
    if len(starts) == len(names):  # each type's rows together: slices
        ends = np.append(starts[1:], len(codes))
        return {names[codes[s]]: table.slice(int(s), int(e - s))
                for s, e in zip(starts, ends, strict=True)}
    return {name: table.take(pa.array(np.flatnonzero(codes == i)))
            for i, name in enumerate(names)}


def forget() -> None:
    """Drop the remembered split."""
    with _lock:
        _last.clear()

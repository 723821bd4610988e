"""The per-type split the commit hooks share gives exactly what filtering by type gives."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc

from wasmwatch.store.by_type import by_type


def _filtered(table: pa.Table) -> dict[str, pa.Table]:
    types = set(table["type"].to_pylist())
    return {t: table.filter(pc.equal(table["type"], pa.scalar(t, pa.string()))) for t in types}


def test_grouped_and_interleaved_tables_split_like_a_filter() -> None:
    rng = random.Random(8)
    types = ["operation", "error", "memory", "feature"]
    grouped = [t for t in types for _ in range(rng.randint(1, 50))]
    interleaved = [rng.choice(types) for _ in range(300)]
    for column in (grouped, interleaved):
        table = pa.table({"type": column, "ms": [rng.random() for _ in column]})
        chunked = pa.concat_tables([table.slice(0, 7), table.slice(7)])
        for t in (table, chunked):
            split = by_type(t)
            assert split is by_type(t)  # remembered for the next hook of the same commit
            want = _filtered(t)
            assert split.keys() == want.keys()
            for name, part in split.items():
                assert part.to_pydict() == want[name].to_pydict()
    assert by_type(pa.table({"type": pa.array([], pa.string())})) == {}

"""The logical shape of an item: one wide, sparse row per item, as view ``items`` shows it.

It is stored narrower (batch context once per batch, one table per type: :mod:`.layout`).

Times are integers: milliseconds since the Unix epoch (``ts`` corrected for client clock skew,
``client_ts`` as the client sent it, ``received`` by the server clock). Columns a type does not
use are NULL. Which column holds what, per type:

=============  ===============================================================================
``name``       operation name, feature name, measurement name, bundle URL, engagement page,
               the operation an error happened in; server request route template, server span
               name
``kind``       error kind; server span kind (``query``, ``span``, ``execute``)
``ms``         bundle total, runtime init, operation, sync, engagement visible time, server
               request and span duration
``ok``         operation / sync / server request (status < 500 unless sent) / span succeeded
``offline``    operation ran offline, engagement time spent offline
``cached``     bundle came from cache
``value``      measurement value; memory: WASM linear memory bytes; error: memory at error
=============  ===============================================================================
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

import msgspec


class Row(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    project: str
    type: str
    ts: int
    client_ts: int
    received: int
    session: str | None = None
    release: str | None = None
    page: str | None = None
    connection: str | None = None
    device: str | None = None
    browser: str | None = None
    browser_major: int | None = None
    os: str | None = None
    online: bool | None = None
    sdk: str | None = None
    name: str | None = None
    ms: float | None = None
    ok: bool | None = None
    offline: bool | None = None
    cached: bool | None = None
    streaming: bool | None = None
    fetch_ms: float | None = None
    compile_ms: float | None = None
    instantiate_ms: float | None = None
    transfer_bytes: int | None = None
    decoded_bytes: int | None = None
    expected_ms: float | None = None
    category: str | None = None
    kind: str | None = None
    message: str | None = None
    stack: str | None = None
    frame: str | None = None
    fingerprint: str | None = None
    value: float | None = None
    js_heap_bytes: int | None = None
    grow_count: int | None = None
    gc_count: int | None = None
    gc_ms: float | None = None
    synced: int | None = None
    conflicts: int | None = None
    pending: int | None = None
    unit: str | None = None
    tags: str | None = None
    # server items (and ``trace_id`` of operations); appended last: stored tables add them last
    method: str | None = None
    status: int | None = None
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    service: str | None = None
    statement: str | None = None
    rss_bytes: int | None = None
    cpu_s: float | None = None
    threads: int | None = None


def _sql_type(annotation: str) -> str:
    base = annotation.split("|")[0].strip()
    return {"str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}[base]


# Column name -> SQL type, in Row field order; used for DDL and for DuckDB's JSON reader.
COLUMNS: dict[str, str] = {
    name: _sql_type(str(annotation))
    for name, annotation in Row.__annotations__.items()
}


def rows_of(table: Any) -> list[Row]:
    """``Row`` values of an Arrow table with ``Row`` columns (e.g. what on_commit hooks get)."""
    have = set(table.column_names) & set(COLUMNS)
    if not have:
        return [Row("", "", "", 0, 0, 0) for _ in range(table.num_rows)]
    # columns missing from ``table`` are None; the present ones bound the zip
    columns = [table.column(name).to_pylist() if name in have else repeat(None) for name in COLUMNS]
    return [Row(*values) for values in zip(*columns, strict=False)]

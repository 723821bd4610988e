"""Read side of the store: summary, chart series and error groups, plus the rollup they use.

Every function takes a DuckDB connection or cursor owned by the caller and the time (``now_ms``)
as arguments, and returns plain JSON-ready dicts (no NaN: undefined numbers are ``None``).
Bad arguments raise :class:`QueryError` (a ``ValueError``); see :mod:`.exceptions`.
"""

from __future__ import annotations

from wasmwatch.query import rollup
from wasmwatch.query.errors import error_groups
from wasmwatch.query.exceptions import QueryError, UnknownMetric, WindowError
from wasmwatch.query.series import METRICS, series
from wasmwatch.query.sources import EXACT_MAX_S
from wasmwatch.query.summary import summary
from wasmwatch.query.windows import default_step, parse_duration, parse_step, parse_window

__all__ = [
    "EXACT_MAX_S",
    "METRICS",
    "QueryError",
    "UnknownMetric",
    "WindowError",
    "default_step",
    "error_groups",
    "parse_duration",
    "parse_step",
    "parse_window",
    "rollup",
    "series",
    "summary",
]

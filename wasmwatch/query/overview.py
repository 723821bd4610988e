"""The dashboard's summary: :func:`~wasmwatch.query.summary.summary` plus what its cards need.

On top of the plain summary it adds

* ``bundle_load.first`` / ``bundle_load.cached``: the first-vs-cached split (see
  :mod:`.loads`; ``summary(split=True)``), computed here rather than in the browser from a
  sample of raw rows;
* ``events`` under an ``operation`` filter counts only that operation's operations and errors
  (other item types carry no operation, so the filter leaves them out rather than in);
* ``previous`` (with ``compare=True``): the same sections over the window of the same length
  just before, for each card's trend.
"""

from __future__ import annotations

from typing import Any

from wasmwatch.query.cache import SpanCache
from wasmwatch.query.sources import Filters
from wasmwatch.query.summary import summary

__all__ = ["OPERATION_TYPES", "overview"]

Json = dict[str, Any]
OPERATION_TYPES = ("operation", "error")  # the item types an operation filter applies to


def _one(con: Any, args: Json, filters: Filters, window_s: int, to_ms: int,
         cache: SpanCache | None) -> Json:
    answer = summary(con, **args, window_s=window_s, now_ms=to_ms, split=True, cache=cache)
    if filters.operation is not None:
        answer["events"] = {t: n for t, n in answer["events"].items() if t in OPERATION_TYPES}
    return answer


def overview(
    con: Any,
    *,
    project: str,
    window_s: int,
    now_ms: int,
    release: str | None = None,
    browser: str | None = None,
    operation: str | None = None,
    exact: bool = False,
    compare: bool = False,
    cache: SpanCache | None = None,
) -> Json:
    """The summary of ``window_s`` up to ``now_ms``, and with ``compare`` the one before it
    (``cache``: see :func:`~wasmwatch.query.summary.summary`)."""
    filters = Filters(project, release, browser, operation)
    args: Json = dict(project=project, release=release, browser=browser, operation=operation,
                      exact=exact)
    answer = _one(con, args, filters, window_s, now_ms, cache)
    if compare:
        before = _one(con, args, filters, window_s, answer["from_ms"], cache)
        answer["previous"] = before
    return answer

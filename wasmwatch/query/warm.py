"""The span cache warmed after a start, so the first long-window summary reads it.

A rollup summary's first answer after a start reads every span of its window from the rollup
tables (two statements more than a repeated one, planned and run) and merges their rows in
Python. :func:`warm` asks, once the server has started, the summaries of the long windows
(24 h, 7 d, 30 d, unfiltered) of each project with rollup rows, the way the endpoint asks
them, and so leaves in the :class:`~wasmwatch.query.cache.SpanCache` exactly the entries
those requests make: each span's rows and the window's merged rows. They stay exact through
the cache's flush hook, like any other entry.

Each window ends where a dashboard's ``now`` would put it: at the project's newest minute
bucket, and not after the clock's now (items dated ahead are counted only once their time has
come). It ends at that minute's last millisecond, so the window starts one minute after a
whole minute and a request ending anywhere later in the same minute has the same spans.

The warmer is one worker thread's reader, one summary at a time: before each it waits
(briefly) while the writer has items queued, and after each it sleeps as long as the summary
took, so it takes at most about half a core from requests and ingest.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from wasmwatch.query.cache import SpanCache
from wasmwatch.query.overview import overview

__all__ = ["MAX_PROJECTS", "WINDOWS_S", "targets", "warm", "warmer"]

log = logging.getLogger(__name__)

WINDOWS_S = (86_400, 7 * 86_400, 30 * 86_400)  # the rollup windows of the dashboard's picker
MAX_PROJECTS = 20
_MINUTE_MS = 60_000
_WAIT_WRITER_S = 2.0  # wait at most this long for the writer's queue to empty, per summary

# projects with rollup rows, most items first; and each one's newest minute bucket up to now
_PROJECTS = """
SELECT project, max(t) FROM rollup_minute WHERE t <= ? GROUP BY project
ORDER BY sum(n) DESC, project LIMIT ?"""


def targets(con: Any, now_ms: int, max_projects: int = MAX_PROJECTS) -> list[tuple[str, int]]:
    """``(project, end_ms)`` of each project to warm: its newest minute bucket's last
    millisecond, at most ``now_ms``."""
    rows = con.execute(_PROJECTS, [now_ms, max_projects]).fetchall()
    return [(str(p), min(now_ms, int(t) + _MINUTE_MS - 1)) for p, t in rows if t is not None]


async def warm(reader: Callable[[], Any], cache: SpanCache, now_ms: Callable[[], int],
               queued: Callable[[], int], stop: asyncio.Event,
               windows_s: tuple[int, ...] = WINDOWS_S) -> int:
    """Run each project's long-window summaries once with ``cache`` (see the module doc);
    ``reader()`` gives the calling thread's cursor, ``queued()`` the writer's queue depth.
    Returns the summaries run. A summary already running finishes before this returns, even
    when cancelled (the store is closed only after)."""
    started = time.perf_counter()
    found = await _in_thread(lambda: targets(reader(), now_ms()))
    done = 0
    for project, end_ms in found:
        for window_s in windows_s:
            if stop.is_set():
                return done
            deadline = time.monotonic() + _WAIT_WRITER_S
            while queued() and time.monotonic() < deadline and not stop.is_set():
                await asyncio.sleep(0.05)
            took = time.perf_counter()
            await _in_thread(functools.partial(_summary, reader, cache, project, window_s,
                                               end_ms))
            done += 1
            await asyncio.sleep(time.perf_counter() - took)
    log.info("span cache warmed: %d summaries of %d projects in %.2f s, %d rows held",
             done, len(found), time.perf_counter() - started, cache.rows)
    return done


def _summary(reader: Callable[[], Any], cache: SpanCache, project: str, window_s: int,
             end_ms: int) -> None:
    overview(reader(), project=project, window_s=window_s, now_ms=end_ms, cache=cache)


async def warmer(reader: Callable[[], Any], cache: SpanCache, now_ms: Callable[[], int],
                 queued: Callable[[], int], stop: asyncio.Event) -> None:
    """:func:`warm` as the runtime's background task: a failure is logged, not raised."""
    try:
        await warm(reader, cache, now_ms, queued, stop)
    except Exception:
        log.exception("warming the span cache failed")


async def _in_thread(fn: Callable[[], Any]) -> Any:
    """``fn()`` on a worker thread; if cancelled meanwhile, wait for it to finish, then
    re-raise (its cursor must not outlive the store)."""
    job = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        await asyncio.wait([job])
        raise

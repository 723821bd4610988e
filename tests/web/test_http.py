"""The plain ASGI request: body deadlines checked by one timer per event loop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from wasmwatch.errors import RequestTimeout
from wasmwatch.web.http import Deadlines, Request

SCOPE: dict[str, Any] = {"type": "http", "method": "POST", "path": "/api/v1/ingest",
                         "query_string": b"", "headers": [(b"content-length", b"100")]}


async def test_a_stalled_body_times_out_and_a_prompt_one_leaves_no_timer() -> None:
    """A body that never comes is a 408 once its deadline passes (at most one sweep late);
    the requests beside it that got their bodies leave nothing pending, and with nothing
    pending the timer stops."""
    loop = asyncio.get_running_loop()
    stalled = asyncio.Event()

    async def never() -> dict[str, Any]:
        await stalled.wait()
        return {"type": "http.request", "body": b"late"}

    async def prompt() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    started = loop.time()
    slow = asyncio.ensure_future(Request(SCOPE, never, 0.05).body(1000))
    bodies = await asyncio.gather(*(Request(SCOPE, prompt, 0.05).body(1000) for _ in range(20)))
    assert bodies == [b"{}"] * 20
    deadlines = Deadlines.of(loop)
    assert len(deadlines.pending) == 1  # only the stalled one
    with pytest.raises(RequestTimeout, match=r"body not received within 0\.05 s"):
        await slow
    assert 0.05 <= loop.time() - started < 0.05 + Deadlines.SWEEP_S + 1
    assert not deadlines.pending
    while deadlines.timer is not None:  # the sweep after the last one lets go
        await asyncio.sleep(0.01)
    assert loop not in Deadlines._by_loop


async def test_a_task_cancelled_from_outside_is_not_a_timeout() -> None:
    """A cancel that is not the deadline's (the client went away) stays a cancel."""
    async def never() -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    task = asyncio.ensure_future(Request(SCOPE, never, 30.0).body(1000))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(task not in found.pending for found in Deadlines._by_loop.values())

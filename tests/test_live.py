"""Tests for wasmwatch.live: each subscriber sees its own project's rows only."""

from __future__ import annotations

import asyncio

from wasmwatch.live import LiveHub
from wasmwatch.store.schema import Row


def row(project: str, n: int) -> Row:
    return Row(id=f"{project}{n}", project=project, type="operation", ts=n, client_ts=n, received=n,
               name="op", ms=1.0)


async def test_subscribers_see_only_their_project() -> None:
    """A commit with rows of two projects gives each subscriber its own project's summary."""
    hub = LiveHub()
    got: dict[str, list[int]] = {"a": [], "b": []}

    async def follow(project: str) -> None:
        async for update in hub.subscribe(project):
            if update is not None:
                event, data = update
                assert event == "items"
                got[project].append(data["items"])

    tasks = [asyncio.create_task(follow(p)) for p in ("a", "b")]
    await asyncio.sleep(0)
    hub.publish([row("a", 1), row("b", 1), row("b", 2), row("c", 1)])
    hub.publish([row("c", 2)])
    hub.publish([row("a", 2)])
    hub.close()
    await asyncio.gather(*tasks)
    assert got == {"a": [1, 1], "b": [2]}

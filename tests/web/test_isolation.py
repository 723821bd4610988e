"""Two projects side by side: every query endpoint and /metrics keep their data apart."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import KEY, NOW, envelope, item
from wasmwatch.runtime import Runtime


@pytest.fixture
async def two(client: httpx.AsyncClient, admin: dict[str, str], runtime: Runtime) -> dict[str, str]:
    """Project default gets 3 "render" operations, 1 error and a bundle load of release 1.0;
    project other gets 5 "paint" operations, 2 errors and a bundle load of release 9.9."""
    made = await client.post("/api/v1/projects", json={"id": "other"}, headers=admin)
    other = made.json()["key"]["key"]
    sets: dict[str, list[dict[str, Any]]] = {
        KEY: [*(item(name="render", ts=NOW - 60_000) for _ in range(3)),
              item("error", kind="RuntimeError", message="default trap", ts=NOW - 60_000),
              item("bundle_load", ts=NOW - 60_000)],
        other: [*(item(name="paint", ts=NOW - 60_000) for _ in range(5)),
                *(item("error", kind="TypeError", message="other trap", ts=NOW - 60_000) for _ in range(2)),
                item("bundle_load", ts=NOW - 60_000)],
    }
    for key, items in sets.items():
        release = "1.0" if key == KEY else "9.9"
        r = await client.post(f"/api/v1/ingest?key={key}", json=envelope(items, release=release))
        assert r.json()["accepted"] == len(items)
    assert runtime.store is not None
    await runtime.writer.run_exclusive(runtime.store.flush, True)  # rollups for the long windows
    return {"default": KEY, "other": other}


async def get(client: httpx.AsyncClient, admin: dict[str, str], path: str, **params: str) -> Any:
    r = await client.get(path, params=params, headers=admin)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("window", ["1h", "24h"])
async def test_summary_shows_only_its_project(client: httpx.AsyncClient, admin: dict[str, str],
                                              two: dict[str, str], window: str) -> None:
    """Summary (raw and rolled up) counts only the asked project's items; default by default."""
    mine = await get(client, admin, "/api/v1/summary", window=window)
    theirs = await get(client, admin, "/api/v1/summary", window=window, project="other")
    assert set(mine["operations"]) == {"render"} and mine["operations"]["render"]["count"] == 3
    assert set(theirs["operations"]) == {"paint"} and theirs["operations"]["paint"]["count"] == 5
    assert (mine["errors"]["count"], theirs["errors"]["count"]) == (1, 2)
    assert await get(client, admin, "/api/v1/summary", window=window, project="default") == mine
    assert mine["approximate"] is (window == "24h")  # the long window reads the rollups
    assert "9.9" not in str(mine) and "1.0" not in str(theirs)


async def test_series_shows_only_its_project(client: httpx.AsyncClient, admin: dict[str, str],
                                             two: dict[str, str]) -> None:
    """Series points count only the asked project's items."""
    for project, ops, errors in (("default", 3, 1), ("other", 5, 2)):
        series = await get(client, admin, "/api/v1/series", metric="operation", window="1h",
                           step="1m", project=project)
        assert sum(p["count"] for p in series["points"]) == ops
        errs = await get(client, admin, "/api/v1/series", metric="errors", window="24h", project=project)
        assert sum(p["count"] for p in errs["points"]) == errors


async def test_errors_and_items_show_only_their_project(client: httpx.AsyncClient, admin: dict[str, str],
                                                        two: dict[str, str]) -> None:
    """Error groups and raw items come from the asked project only."""
    mine = await get(client, admin, "/api/v1/errors")
    theirs = await get(client, admin, "/api/v1/errors", project="other")
    assert [(g["kind"], g["count"]) for g in mine["groups"]] == [("RuntimeError", 1)]
    assert [(g["kind"], g["count"]) for g in theirs["groups"]] == [("TypeError", 2)]
    for project, count in (("default", 5), ("other", 8)):
        rows = (await get(client, admin, "/api/v1/items", project=project))["items"]
        assert len(rows) == count and {r["project"] for r in rows} == {project}


async def test_unknown_project_is_404(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Asking for a project that does not exist is a 404 naming it, not an empty answer."""
    for path in ("/api/v1/summary", "/api/v1/series", "/api/v1/errors", "/api/v1/items", "/api/v1/stream"):
        r = await client.get(path, params={"project": "ghost"}, headers=admin)
        assert r.status_code == 404 and "ghost" in r.json()["error"], path


async def test_metrics_carry_the_project_label(client: httpx.AsyncClient, two: dict[str, str]) -> None:
    """Client metrics on /metrics are split by a project label, so no series mixes projects."""
    text = (await client.get("/metrics")).text
    ops = [line for line in text.splitlines() if line.startswith("wasm_operations_total{")]
    assert any('project="default"' in line and 'operation="render"' in line and line.endswith(" 3.0")
               for line in ops), ops
    assert any('project="other"' in line and 'operation="paint"' in line and line.endswith(" 5.0")
               for line in ops), ops
    assert not any('project="default"' in line and "paint" in line for line in ops)

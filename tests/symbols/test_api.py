"""Symbols over HTTP (in process, a real DuckDB file): upload, listing, and errors resolved on
read, grouped by their resolved top frame."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import KEY, NOW, envelope, item
from tests.symbols.build import Built
from tests.symbols.engine import trap_stack


async def ingest_error(client: httpx.AsyncClient, stack: str, release: str = "1.4.2",
                       message: str = "unreachable") -> None:
    items = [item("error", kind="unreachable", category="runtime", message=message, stack=stack,
                  ts=NOW - 1000)]
    r = await client.post(f"/api/v1/ingest?key={KEY}", json=envelope(items, release=release))
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


async def upload(client: httpx.AsyncClient, admin: dict[str, str], data: bytes, **query: str) -> Any:
    r = await client.post("/api/v1/symbols", params=query, content=data, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()["stored"]


async def groups(client: httpx.AsyncClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/errors?window=1h", headers=admin)
    assert r.status_code == 200, r.text
    return list(r.json()["groups"])


def short(frame: dict[str, Any]) -> tuple[Any, ...]:
    return frame["function"], (frame["file"] or "").rsplit("/", 1)[-1], frame["line"]


async def test_upload_then_list(client: httpx.AsyncClient, admin: dict[str, str], built: Built) -> None:
    """An uploaded debug build is stored with its names, lines and hashes, and listed."""
    stored = await upload(client, admin, built.debug.read_bytes(), release="1.4.2", name="app.debug.wasm")
    assert stored["functions"] == 4 and stored["line_rows"] > 0 and stored["release"] == "1.4.2"
    listed = (await client.get("/api/v1/symbols", headers=admin)).json()["files"]
    assert [f["content_hash"] for f in listed] == [stored["content_hash"]]


async def test_bad_uploads_are_4xx(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Not a module, a bad URL, an unknown project, no token: 4xx naming the problem."""
    r = await client.post("/api/v1/symbols", content=b"hello", headers=admin)
    assert r.status_code == 400 and "WebAssembly" in r.json()["error"]
    r = await client.post("/api/v1/symbols?url=file:///etc/passwd", content=b"\0asm\x01\0\0\0", headers=admin)
    assert r.status_code == 400 and "url" in r.json()["error"]
    r = await client.post("/api/v1/symbols?project=nope", content=b"\0asm\x01\0\0\0", headers=admin)
    assert r.status_code == 400 and "project" in r.json()["error"]
    assert (await client.post("/api/v1/symbols", content=b"\0asm\x01\0\0\0")).status_code == 401


async def test_a_later_upload_resolves_old_errors(client: httpx.AsyncClient, admin: dict[str, str],
                                                  built: Built) -> None:
    """A stripped module's trap is raw until its debug build is uploaded; then every frame has
    function, file and line, the raw index and offset kept beside them."""
    await ingest_error(client, trap_stack(built.stripped, "run", 5))
    [before] = await groups(client, admin)
    assert [f["function"] for f in before["frames"]] == [None, None, None]
    assert before["resolved_frame"] is None
    await upload(client, admin, built.debug.read_bytes(), release="1.4.2")
    [after] = await groups(client, admin)
    assert [short(f) for f in after["frames"]] == [
        ("check", "app.c", built.line_of("TRAP LINE")), ("step", "app.c", built.line_of("CALL LINE")),
        ("run", "app.c", built.line_of('export_name("run")'))]
    assert [(f["index"], f["offset"]) for f in after["frames"]] == [(2, "0x8d"), (1, "0x6d"), (0, "0x59")]
    assert after["resolved_frame"].startswith("check (") and after["frame"] == before["frame"]


async def test_stripped_module_matched_by_code_section(client: httpx.AsyncClient, admin: dict[str, str],
                                                       built: Built) -> None:
    """A stripped module known by its URL resolves through the debug build with the same code."""
    url = "https://cdn.example/app.wasm"
    stack = re.sub(r"wasm://wasm/[0-9a-f]+", url, trap_stack(built.stripped, "run", 5))
    await ingest_error(client, stack, release="other-release")
    await upload(client, admin, built.debug.read_bytes(), release="1.4.2")
    await upload(client, admin, built.stripped.read_bytes(), url=url)
    [group] = await groups(client, admin)
    assert short(group["frames"][0]) == ("check", "app.c", built.line_of("TRAP LINE"))


async def test_groups_merge_by_resolved_top_frame(client: httpx.AsyncClient, admin: dict[str, str],
                                                  built: Built) -> None:
    """The same trap in two releases (function indexes shifted) is two raw groups, one resolved."""
    await ingest_error(client, trap_stack(built.stripped, "run", 5), release="1.4.2")
    await ingest_error(client, trap_stack(built.shifted, "run", 5), release="1.5.0")
    raw = await groups(client, admin)
    assert len(raw) == 2
    await upload(client, admin, built.debug.read_bytes(), release="1.4.2")
    await upload(client, admin, built.shifted.read_bytes(), release="1.5.0")
    r = (await client.get("/api/v1/errors?window=1h", headers=admin)).json()
    assert r["group_count"] == 1
    [group] = r["groups"]
    assert group["count"] == 2 and sorted(group["fingerprints"]) == sorted(g["fingerprint"] for g in raw)
    assert group["releases"] == ["1.4.2", "1.5.0"]
    assert short(group["frames"][0]) == ("check", "app.c", built.line_of("TRAP LINE"))


async def test_scrubbed_module_urls_do_not_break_reads(client: httpx.AsyncClient, admin: dict[str, str],
                                                       built: Built) -> None:
    """A stack whose module URL had its IP scrubbed still reads (and resolves by release)."""
    stack = re.sub(r"wasm://wasm/[0-9a-f]+", "http://10.1.2.3:8080/app.wasm", trap_stack(built.stripped, "run", 5))
    await ingest_error(client, stack)
    await upload(client, admin, built.debug.read_bytes(), release="1.4.2")
    [group] = await groups(client, admin)
    assert "10.1.2.3" not in group["stack"]
    assert short(group["frames"][0]) == ("check", "app.c", built.line_of("TRAP LINE"))

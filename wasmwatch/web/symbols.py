"""Symbol files over HTTP (admin): ``POST /api/v1/symbols`` takes a module's bytes (the CLI's
``wasmwatch symbols upload``), ``GET /api/v1/symbols`` lists what is known; and the symbols
side of ``GET /api/v1/errors`` (resolved frames, groups merged by resolved top frame)."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from wasmwatch.errors import BadRequest, StoreError
from wasmwatch.runtime import Runtime
from wasmwatch.symbols import Fetcher, ModuleError, Resolver, SymbolStore, from_module, parse, regroup
from wasmwatch.web.http import Request, Response, json_response

_PARTS: weakref.WeakKeyDictionary[Runtime, tuple[SymbolStore, Fetcher]] = weakref.WeakKeyDictionary()
_MAX_TEXT = 256


def parts(rt: Runtime) -> tuple[SymbolStore, Fetcher]:
    """The runtime's symbol store and fetcher, made on first use."""
    if rt not in _PARTS:
        def connect() -> Any:
            if rt.store is None:
                raise StoreError("the store is not open")
            return rt.store.reader()

        store = SymbolStore(connect)
        _PARTS[rt] = (store, Fetcher(store, rt.settings.symbols_fetch_projects,
                                     max_bytes=rt.settings.symbols_max_bytes, now_ms=rt.clock.now_ms))
    return _PARTS[rt]


def _text(request: Request, name: str) -> str | None:
    value = request.query.get(name) or None
    if value is not None and len(value) > _MAX_TEXT:
        raise BadRequest(f"{name}: at most {_MAX_TEXT} characters")
    return value


def _project(rt: Runtime, request: Request) -> str:
    project = request.query.get("project") or "default"
    if project not in {p.id for p in rt.keyring.projects}:
        raise BadRequest(f"project: no such project {project!r}")
    return project


async def upload(rt: Runtime, request: Request) -> Response:
    rt.authorize_admin(request)
    project = _project(rt, request)
    url = _text(request, "url")
    if url is not None and not url.startswith(("http://", "https://")):
        raise BadRequest("url: expected an http(s) URL")
    data = await request.body(rt.settings.symbols_max_bytes)
    try:
        module = parse(data)
    except ModuleError as exc:
        raise BadRequest(f"body: {exc}") from exc
    store, _ = parts(rt)
    f = from_module(module, project=project, release=_text(request, "release"),
                    name=_text(request, "name"), url=url, source="upload", now_ms=rt.clock.now_ms())
    await asyncio.to_thread(store.put, f)
    return json_response({"stored": f.summary()}, 201)


async def listing(rt: Runtime, request: Request) -> Response:
    rt.authorize_admin(request)
    store, _ = parts(rt)
    files = await asyncio.to_thread(store.files, _project(rt, request))
    return json_response({"files": [f.summary() for f in files]})


def symbolicate(rt: Runtime, project: str, result: dict[str, Any]) -> dict[str, Any]:
    """Error groups with their frames resolved (runs on a reader thread)."""
    store, fetcher = parts(rt)
    return regroup(result, Resolver(store, project, fetcher))



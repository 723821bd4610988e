"""Built browser assets (SDK, demo, dashboard), the demo's config and the OpenAPI document."""

from __future__ import annotations

import hashlib
import mimetypes
from functools import lru_cache
from pathlib import Path

from wasmwatch.errors import NotFound
from wasmwatch.runtime import Runtime
from wasmwatch.web.http import Request, Response, json_response
from wasmwatch.web.openapi import document

STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
          ".wasm": "application/wasm", ".html": "text/html; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".ts": "text/plain; charset=utf-8",
          ".map": "application/json", ".png": "image/png", ".svg": "image/svg+xml"}


@lru_cache(maxsize=256)
def _load(path: Path) -> tuple[bytes, str]:
    data = path.read_bytes()
    return data, hashlib.blake2b(data, digest_size=8).hexdigest()


def serve_file(request: Request, root: Path, relative: str, *, cors: bool = False) -> Response:
    relative = relative.lstrip("/") or "index.html"
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        raise NotFound(f"no such file: {request.path}")
    data, etag = _load(path)
    headers = {"etag": f'"{etag}"', "cache-control": "public, max-age=300"}
    if cors:
        headers["access-control-allow-origin"] = "*"
        headers["cross-origin-resource-policy"] = "cross-origin"
    ctype = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(b"", 304, headers, ctype)
    return Response(b"" if request.method == "HEAD" else data, 200, headers, ctype)


async def sdk(rt: Runtime, request: Request) -> Response:
    return serve_file(request, STATIC / "sdk", request.path[len("/sdk/"):], cors=True)


async def demo(rt: Runtime, request: Request) -> Response:
    if not rt.settings.demo:
        raise NotFound("the demo is turned off (demo = false)")
    if request.path == "/demo":
        return Response(b"", 308, {"location": "/demo/"})
    return serve_file(request, STATIC / "demo", request.path[len("/demo/"):])


def public_url(rt: Runtime, request: Request) -> str:
    host = request.headers.get("host") or f"{rt.settings.host}:{rt.settings.port}"
    return f"http://{host}"


async def demo_config(rt: Runtime, request: Request) -> Response:
    """The demo page's settings: this server's address and the default project's key."""
    if not rt.settings.demo:
        raise NotFound("the demo is turned off (demo = false)")
    key = rt.keyring.default_key or ""
    body = (f"window.WASMWATCH_CONFIG = {{endpoint: {public_url(rt, request)!r}, "
            f"key: {key!r}, release: 'demo-1'}};\n")
    return Response(body.encode(), 200, {"cache-control": "no-store"},
                    "text/javascript; charset=utf-8")


async def dashboard(rt: Runtime, request: Request) -> Response:
    if not rt.settings.dashboard:
        raise NotFound("the dashboard is turned off (dashboard = false)")
    if request.path in ("/dashboard", "/dashboard/"):
        return serve_file(request, STATIC / "dashboard", "index.html")
    return serve_file(request, STATIC / "dashboard", request.path[len("/dashboard/"):])


async def index(rt: Runtime, request: Request) -> Response:
    if request.path != "/":
        raise NotFound(f"no such path: {request.path}")
    return Response(b"", 307, {"location": "/dashboard"})


async def openapi(rt: Runtime, request: Request) -> Response:
    return json_response(document())

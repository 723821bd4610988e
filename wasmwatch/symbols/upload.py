"""``wasmwatch symbols upload app.wasm --release 1.4.2``: sends a module to a running server
(``POST /api/v1/symbols`` with the admin token) after checking it locally."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from wasmwatch.symbols.module import ModuleError, parse

__all__ = ["UploadError", "upload"]


class UploadError(Exception):
    """The file is not a module, or the server refused it (its message is kept)."""


def upload(path: Path, *, server: str, token: str | None, release: str | None,
           project: str | None = None, url: str | None = None, timeout_s: float = 60.0) -> dict[str, Any]:
    token = token or os.environ.get("WASMWATCH_ADMIN_TOKEN")
    if not token:
        raise UploadError("no admin token: pass --token or set WASMWATCH_ADMIN_TOKEN")
    try:
        data = path.read_bytes()
        parse(data)
    except (OSError, ModuleError) as exc:
        raise UploadError(f"{path}: {exc}") from exc
    query = {k: v for k, v in (("release", release), ("project", project), ("url", url),
                               ("name", path.name)) if v}
    request = urllib.request.Request(
        f"{server.rstrip('/')}/api/v1/symbols?{urlencode(query)}", data=data, method="POST",
        headers={"authorization": f"Bearer {token}", "content-type": "application/wasm"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            return dict(json.loads(answer.read()))
    except urllib.error.HTTPError as exc:
        raise UploadError(f"{exc.code}: {exc.read().decode(errors='replace')}") from exc
    except OSError as exc:
        raise UploadError(f"cannot reach {server}: {exc}") from exc

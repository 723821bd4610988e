"""The route template of a finished ASGI request, read on the sender thread."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

__all__ = ["UNMATCHED", "asgi_route"]

UNMATCHED = "*"


def asgi_route(scope: MutableMapping[str, Any], root_path: str = "") -> str:
    """The route template the framework matched (``/items/{id}``), or ``*``.

    Starlette and FastAPI leave the matched route in ``scope["route"]`` (its ``path``, after
    the prefix of any ``Mount``: the part of ``root_path`` added below the middleware, whose
    own ``root_path`` was ``root_path``); FastAPI 0.16x keeps an included router's route
    unprefixed there, and the full template in ``scope["fastapi"]["effective_route_context"]``;
    Litestar leaves ``scope["path_template"]``."""
    try:
        fastapi = scope.get("fastapi")
        effective = fastapi.get("effective_route_context") if isinstance(fastapi, dict) else None
        path = getattr(effective, "path", None) or getattr(scope.get("route"), "path", None)
        if isinstance(path, str):
            now = scope.get("root_path", "")
            prefix = now[len(root_path):] if isinstance(now, str) and now.startswith(root_path) else ""
            return (prefix + path) or "/"
        template = scope.get("path_template")
        return template if isinstance(template, str) else UNMATCHED
    except Exception:  # a framework's odd route object: the request still counts
        return UNMATCHED

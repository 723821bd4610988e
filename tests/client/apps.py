"""Real host apps for the client and browser tests, one factory per framework family, all
serving the same little API (:data:`API`), and the real servers that run them in threads:
uvicorn for the ASGI apps (Starlette, Litestar), waitress and wsgiref for the WSGI ones
(Flask, Django).

Every app answers ``GET /hello`` (the liveness probe), ``GET /`` (the ``page`` it is given),
a JSON route with a path parameter (``/api/items/{id}`` and ``/api/users/{id}`` in each
framework's own template syntax), ``POST /api/save`` (201), a ``POST`` route that a browser
page calls inside ``track()`` (with a span inside it), and ``/boom`` (raises: a 500).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx

from tests.conftest import free_port
from wasmwatch.client import ASGIMiddleware, Client, WSGIMiddleware, instrument_flask, span
from wasmwatch.client.sqlalchemy import instrument_engine

#: (method, route in neutral {name:int} syntax, view name): what every app serves
API = (("GET", "/hello", "hello"), ("GET", "/", "page"), ("GET", "/boom", "boom"),
       ("GET", "/api/items/{id:int}", "item"), ("GET", "/api/users/{user_id:int}", "user"),
       ("POST", "/api/save", "save"), ("POST", "/api/docs/{doc_id}/save", "save_doc"),
       ("POST", "/api/users/{user_id:int}/load", "load"))
#: the query every item view runs (its literals are what the tests check are replaced)
ITEM_SQL = "SELECT name FROM things WHERE id = :id AND name != 'secret'"
urlpatterns: list[Any] = []  # Django's ROOT_URLCONF is this module


class Views:
    """The API's behaviour, once: each framework's adapter turns requests into these calls
    (path parameters as ints or strings, the answer as (status, JSON or text))."""

    def __init__(self, html: str = "", item: Callable[[int], Any] | None = None) -> None:
        self.html, self._item = html, item

    def page(self) -> tuple[int, str]:
        return 200, self.html

    def hello(self, **_ignored: Any) -> tuple[int, str]:  # also /v2/things/{name}
        return 200, "hi"

    def boom(self) -> tuple[int, str]:
        raise RuntimeError("boom")

    def item(self, id: int) -> tuple[int, Any]:
        return 200, {"name": self._item(id) if self._item else None}

    def user(self, user_id: int) -> tuple[int, Any]:
        with span("load_user", cache="miss"):
            pass
        return 200, {"id": user_id}

    def save(self) -> tuple[int, Any]:
        return 201, {"ok": True}

    def save_doc(self, doc_id: str) -> tuple[int, Any]:
        with span("validate"):
            pass
        return 200, {"saved": True}

    def load(self, user_id: int) -> tuple[int, Any]:
        return 200, {"id": user_id}


def sqlite_items(client: Client | None, db: Path) -> Callable[[int], Any]:
    """An item lookup in SQLite through SQLAlchemy (its queries reported when ``client``)."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as con:
        con.execute(sa.text("CREATE TABLE IF NOT EXISTS things (id INTEGER PRIMARY KEY, name TEXT)"))
        con.execute(sa.text("INSERT OR REPLACE INTO things VALUES (1, 'one'), (2, 'two')"))
    if client is not None:
        instrument_engine(engine, client)

    def lookup(id: int) -> Any:
        with engine.connect() as con:
            row = con.execute(sa.text(ITEM_SQL), {"id": id}).first()
        return row[0] if row else None

    return lookup


def _call(views: Views, name: str, params: dict[str, Any]) -> tuple[int, Any]:
    return getattr(views, name)(**params)  # type: ignore[no-any-return]


# -- ASGI: Starlette, Litestar ---------------------------------------------------------------

def asgi_app(framework: str, client: Client | None, views: Views) -> Any:
    """The API as a Starlette app (plus a ``Mount`` at ``/v2``), a FastAPI app (the API on a
    router included under ``/v2`` too) or a Litestar app, with the ASGI middleware when
    ``client``."""
    make = {"starlette": _starlette, "fastapi": _fastapi, "litestar": _litestar}[framework]
    return make(client, views)


def _starlette(client: Client | None, views: Views) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Mount, Route

    def endpoint(name: str) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            status, body = _call(views, name, dict(request.path_params))
            if name == "page":
                return HTMLResponse(body, status)
            return PlainTextResponse(body, status) if isinstance(body, str) else JSONResponse(body, status)
        return handle

    routes: list[Any] = [Route(path, endpoint(name), methods=[method]) for method, path, name in API]
    routes.append(Mount("/v2", routes=[Route("/things/{name}", endpoint("hello"))]))
    middleware = [Middleware(ASGIMiddleware, client=client)] if client is not None else []
    return Starlette(routes=routes, middleware=middleware)


def _fastapi(client: Client | None, views: Views) -> Any:
    from fastapi import APIRouter, FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

    def endpoint(name: str) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            status, body = _call(views, name, {k: int(v) if v.isdigit() else v
                                               for k, v in request.path_params.items()})
            if name == "page":
                return HTMLResponse(body, status)
            return PlainTextResponse(body, status) if isinstance(body, str) else JSONResponse(body, status)
        # FastAPI reads the hints at run time: real objects, not this module's strings
        handle.__annotations__ = {"request": Request, "return": Response}
        return handle

    app, router = FastAPI(openapi_url=None), APIRouter()
    for method, path, name in API:
        plain = re.sub(r"\{(\w+):int\}", r"{\1}", path)  # FastAPI's templates carry no convertors
        app.add_api_route(plain, endpoint(name), methods=[method])
        router.add_api_route(plain, endpoint(name), methods=[method])
    app.include_router(router, prefix="/v2")
    if client is not None:
        app.add_middleware(ASGIMiddleware, client=client)
    return app


def _litestar(client: Client | None, views: Views) -> Any:
    from litestar import Litestar, MediaType, Request, Response, route
    from litestar.middleware import DefineMiddleware

    def handler(method: str, path: str, name: str) -> Any:
        def handle(request: Request[Any, Any, Any]) -> Response[Any]:
            status, body = _call(views, name, dict(request.path_params))
            media = MediaType.HTML if name == "page" else MediaType.TEXT if isinstance(body, str) else MediaType.JSON
            return Response(body, status_code=status, media_type=media)
        # Litestar reads the hints at run time: real objects, not this module's strings
        handle.__annotations__ = {"request": Request, "return": Response}
        typed = re.sub(r"\{(\w+)\}", r"{\1:str}", path)  # Litestar wants every parameter typed
        return route(typed, http_method=[method], name=name,  # type: ignore[list-item]
                     sync_to_thread=False)(handle)

    middleware = ([DefineMiddleware(ASGIMiddleware, client=client)]  # type: ignore[arg-type]
                  if client is not None else [])
    # logging_config=None: Litestar would otherwise configure the process's logging
    return Litestar([handler(*entry) for entry in API], middleware=middleware, logging_config=None)


@contextmanager
def _serving(run: Callable[[], object], stop: Callable[[], object], port: int) -> Iterator[str]:
    """Runs a server's ``run`` on a thread; yields its URL once ``/hello`` answers, then ``stop``s it."""
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url + "/hello")
        yield url
    finally:
        stop()
        thread.join(30)


@contextmanager
def uvicorn_serving(app: Any) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", ws="none", access_log=False))

    def stop() -> None:
        server.should_exit = True

    with _serving(server.run, stop, port) as url:
        yield url


# -- WSGI: Flask, Django ---------------------------------------------------------------------

def _wsgi_path(framework: str, path: str) -> str:
    """A neutral route in Flask's and Django's form (``<int:id>``; Django's without the /)."""
    out = re.sub(r"\{(\w+)\}", r"<\1>", re.sub(r"\{(\w+):int\}", r"<int:\1>", path))
    return out if framework == "flask" else out.lstrip("/")


def wsgi_app(framework: str, client: Client | None, views: Views) -> Any:
    """The API as a Flask app (instrumented when ``client``) or Django's WSGI app (with the
    wasmwatch middleware and query timer, wrapped in :class:`WSGIMiddleware`)."""
    return _flask(client, views) if framework == "flask" else _django(views)


def _flask(client: Client | None, views: Views) -> Any:
    from flask import Flask, jsonify

    app = Flask("wasmwatch_test_app")

    def view(name: str) -> Callable[..., Any]:
        def handle(**params: Any) -> Any:
            status, body = _call(views, name, params)
            return (body if isinstance(body, str) else jsonify(body)), status
        return handle

    for method, path, name in API:
        app.add_url_rule(_wsgi_path("flask", path), name, view(name), methods=[method])
    return instrument_flask(app, client) if client is not None else app


def _django(views: Views) -> Any:
    """Django (configured once per process, on in-memory SQLite) routing to ``views``."""
    import django
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.http import HttpResponse, JsonResponse
    from django.urls import path

    if not settings.configured:
        settings.configure(
            DEBUG=False, ALLOWED_HOSTS=["127.0.0.1"], ROOT_URLCONF=__name__, SECRET_KEY="test",
            MIDDLEWARE=["wasmwatch.client.django.WasmWatchMiddleware"], INSTALLED_APPS=[],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
        django.setup()

    def view(name: str) -> Callable[..., Any]:
        def handle(request: Any, **params: Any) -> Any:
            status, body = _call(views, name, params)
            return HttpResponse(body, status=status) if isinstance(body, str) else JsonResponse(body, status=status)
        return handle

    urlpatterns[:] = [path(_wsgi_path("django", p), view(name)) for _, p, name in API]
    return WSGIMiddleware(get_wsgi_application())


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def waitress_serving(app: Any) -> Iterator[str]:
    from waitress.server import create_server

    port = free_port()
    server = create_server(app, host="127.0.0.1", port=port, threads=2)
    with _serving(server.run, server.close, port) as url:
        yield url


@contextmanager
def wsgiref_serving(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", free_port(), app, handler_class=_Quiet)

    def stop() -> None:
        server.shutdown()
        server.server_close()

    with _serving(server.serve_forever, stop, server.server_port) as url:
        yield url


def wait_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")

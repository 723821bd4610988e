"""Real host apps for the client tests: Starlette on uvicorn, Flask on waitress, in threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port
from wasmwatch.client import ASGIMiddleware, Client, instrument_flask
from wasmwatch.client.sqlalchemy import instrument_engine


def wait_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def starlette_app(client: Client | None, db: Path) -> Any:
    """Items looked up in SQLite through SQLAlchemy; a mounted sub-app; a route that fails."""
    import sqlalchemy as sa
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Mount, Route

    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as con:
        con.execute(sa.text("CREATE TABLE IF NOT EXISTS things (id INTEGER PRIMARY KEY, name TEXT)"))
        con.execute(sa.text("INSERT OR REPLACE INTO things VALUES (1, 'one'), (2, 'two')"))
    if client is not None:
        instrument_engine(engine, client)

    def item(request: Request) -> JSONResponse:
        with engine.connect() as con:
            row = con.execute(sa.text("SELECT name FROM things WHERE id = :id AND name != 'secret'"),
                              {"id": int(request.path_params["id"])}).first()
        return JSONResponse({"name": row[0] if row else None})

    def boom(request: Request) -> PlainTextResponse:
        raise RuntimeError("boom")

    def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi")

    routes = [Route("/api/items/{id:int}", item), Route("/boom", boom), Route("/hello", hello),
              Mount("/v2", routes=[Route("/things/{name}", hello)])]
    middleware = [Middleware(ASGIMiddleware, client=client)] if client is not None else []
    return Starlette(routes=routes, middleware=middleware)


@contextmanager
def uvicorn_serving(app: Any) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", ws="none", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url + "/hello")
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


def flask_app(client: Client | None) -> Any:
    from flask import Flask, jsonify

    from wasmwatch.client import span

    app = Flask("wasmwatch_test_app")

    @app.get("/api/users/<int:user_id>")
    def user(user_id: int) -> Any:
        with span("load_user", cache="miss"):
            pass
        return jsonify({"id": user_id})

    @app.post("/api/save")
    def save() -> Any:
        return jsonify({"ok": True}), 201

    @app.get("/hello")
    def hello() -> str:
        return "hi"

    if client is not None:
        instrument_flask(app, client)
    return app


@contextmanager
def waitress_serving(app: Any) -> Iterator[str]:
    from waitress.server import create_server

    port = free_port()
    server = create_server(app, host="127.0.0.1", port=port, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url + "/hello")
        yield url
    finally:
        server.close()
        thread.join(30)

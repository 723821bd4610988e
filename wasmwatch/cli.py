"""``wasmwatch serve``: one process, the embedded store, the SDK, the demo and the dashboard;
``wasmwatch symbols upload``: symbol files for wasm frames, sent to a running server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import signal
import socket
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from wasmwatch import __version__, admin_cli, listen, memory
from wasmwatch.alerts.rules import load_rules
from wasmwatch.config import Settings, data_path, load
from wasmwatch.errors import ConfigError, StartupError, StoreError
from wasmwatch.telemetry import configure as configure_logging

if TYPE_CHECKING:  # imported by serve(), after memory.prepare_environment()
    from wasmwatch.runtime import Runtime

T = TypeVar("T")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wasmwatch", description=__doc__)
    parser.add_argument("--version", action="version", version=f"wasmwatch {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8787)")
    serve.add_argument("--data-dir", dest="data_dir", help="where the store lives")
    serve.add_argument("--config", help="a TOML settings file")
    serve.add_argument("--role", choices=("ingest", "evaluator", "all"),
                       help="ingest (stateless), evaluator (rules, alerts, dashboard; one), "
                            "or all (default)")
    admin_cli.add_commands(commands)
    symbols = commands.add_parser("symbols", help="symbol files for wasm frames")
    symbol_commands = symbols.add_subparsers(dest="action", required=True)
    up = symbol_commands.add_parser("upload", help="send a module (with name section / DWARF)")
    up.add_argument("file", type=Path, help="the .wasm file (a debug build, or the shipped one)")
    up.add_argument("--release", help="the release it was built for")
    up.add_argument("--server", default=os.environ.get("WASMWATCH_SERVER", "http://127.0.0.1:8787"),
                    help="the running server (default $WASMWATCH_SERVER or http://127.0.0.1:8787)")
    up.add_argument("--token", help="admin token (default $WASMWATCH_ADMIN_TOKEN)")
    up.add_argument("--project", help="project id (default: the default project)")
    up.add_argument("--url", help="the URL the module is served from, if known")
    return parser.parse_args(argv)


def symbols_upload(args: argparse.Namespace) -> int:
    from wasmwatch.symbols.upload import UploadError, upload

    try:
        answer = upload(args.file, server=args.server, token=args.token, release=args.release,
                        project=args.project, url=args.url)
    except UploadError as exc:
        print(f"wasmwatch: {exc}", file=sys.stderr)
        return 1
    f = answer["stored"]
    print(f"stored {args.file.name}: {f['functions']} function names, {f['line_rows']} line rows, "
          f"code {str(f['code_hash'])[:12]}, release {f['release']}")
    return 0


def banner(rt: Runtime) -> str:
    s = rt.settings
    url = f"http://{s.host}:{s.port}"
    key = rt.keyring.default_key or "(none: every key of the default project is revoked)"
    lines = [
        f"wasmwatch {__version__} listening on {url}",
        f"  data dir     {rt.data_dir}" + ("  (created)" if rt.first_start else ""),
    ]
    if rt.store_url.kind != "duckdb" or rt.role != "all":
        lines.append(f"  store        {rt.store_url.redacted()}  (role {rt.role})")
    if s.dashboard:
        lines.append(f"  dashboard    {url}/dashboard#token={rt.admin_token}")
    lines += [
        f"  admin token: {rt.admin_token}",
        f"  ingest key   {key}",
    ]
    if s.demo:
        lines.append(f"  demo app     {url}/demo/")
    lines += [
        "  add the SDK to a page:",
        f'    <script type="module">import {{ WasmWatch }} from "{url}/sdk/wasmwatch.js";',
        f'      WasmWatch.init({{ endpoint: "{url}", key: "{key}", release: "1.0.0" }});</script>',
    ]
    return "\n".join(lines)


def _server(sock: socket.socket, app: Any, settings: Settings) -> Any:
    """granian's embedded server on our own socket (see :mod:`wasmwatch.listen`)."""
    from granian._granian import SocketHolder
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.server.embed import Server

    holder: Any = SocketHolder  # typed without its (fd, is_uds, backlog) constructor

    class _OwnSocketServer(Server):
        def _init_shared_socket(self) -> None:  # granian would bind with SO_REUSEPORT
            state: Any = self
            state._ssp = None
            fd = sock.detach()  # granian owns the descriptor from here on, and closes it
            state._shd = holder(fd, False, self.backlog)
            state._sfd = fd

    http1 = HTTP1Settings(header_read_timeout=round(settings.header_timeout_s * 1000))
    # RSGI, granian's own interface: the app's __rsgi__ (web/rsgi.py), cheaper per request than ASGI
    return _OwnSocketServer(app, interface=Interfaces.RSGI, log_enabled=False, backlog=2048,
                            backpressure=settings.max_connections, http1_settings=http1)


async def serve(settings: Settings, sock: socket.socket) -> list[str]:
    """Run until SIGTERM or SIGINT; returns what the stop could not do (empty when clean)."""
    from wasmwatch.runtime import Runtime
    from wasmwatch.web.app import App

    memory.tune_process()
    runtime = Runtime(settings)
    await runtime.start()
    # what start-up made lives as long as the process: keep the collector off it, and let
    # young objects (a batch's rows) gather longer before each collection
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    app = App(runtime)
    if settings.memory_pageout_idle_s > 0:  # what only the start needed leaves the RSS
        memory.trim()
        memory.page_out()
    server = _server(sock, app, settings)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        runtime.live.close()  # end the event streams first, or they hold the server open
        server.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    print(banner(runtime), flush=True)
    try:
        await server.serve()
    finally:
        problems = await runtime.stop()
        print(stop_message(problems), file=sys.stderr if problems else sys.stdout, flush=True)
    return problems


def stop_message(problems: list[str]) -> str:
    if not problems:
        return "wasmwatch stopped; every accepted item is committed"
    return "wasmwatch stopped, but not cleanly: " + "; ".join(problems)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.run(coro)
    return uvloop.run(coro)


def main(argv: list[str] | None = None) -> int:
    memory.prepare_environment()
    args = parse_args(argv)
    if args.command == "symbols":
        return symbols_upload(args)
    if args.command in admin_cli.COMMANDS:
        return admin_cli.main(args)
    memory.arrow_without_pandas()  # serving: before its modules build Arrow arrays
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        settings = load(flags)
        load_rules(settings.rules)  # a bad rule stops the start with one line
    except ConfigError as exc:
        print(f"wasmwatch: {exc}", file=sys.stderr)
        return 2
    try:
        sock = listen.bind(settings.host, settings.port)
    except StartupError as exc:
        print(f"wasmwatch: {exc}", file=sys.stderr)
        return 3
    try:
        lock = listen.lock_data_dir(data_path(settings))
    except StartupError as exc:
        sock.close()
        print(f"wasmwatch: {exc}", file=sys.stderr)
        return 3
    configure_logging(settings.log_level, settings.log_levels)
    memory.limit_arenas(settings.malloc_arena_max)  # before the threads are made
    problems: list[str] = []
    try:
        with contextlib.suppress(KeyboardInterrupt):
            problems = _run(serve(settings, sock))
    except (StoreError, OSError, ConfigError) as exc:
        print(f"wasmwatch: {exc}", file=sys.stderr)
        return 1
    finally:
        sock.close()
        lock.release()
    return 1 if problems else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

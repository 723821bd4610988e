"""``wasmwatch serve``: one process, the embedded store, the SDK, the demo and the dashboard."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
from typing import Any

from wasmwatch import __version__
from wasmwatch.config import Settings, load
from wasmwatch.errors import ConfigError, StoreError
from wasmwatch.runtime import Runtime
from wasmwatch.telemetry import configure as configure_logging


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wasmwatch", description=__doc__)
    parser.add_argument("--version", action="version", version=f"wasmwatch {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8787)")
    serve.add_argument("--data-dir", dest="data_dir", help="where the store lives")
    serve.add_argument("--config", help="a TOML settings file")
    return parser.parse_args(argv)


def banner(rt: Runtime) -> str:
    s = rt.settings
    url = f"http://{s.host}:{s.port}"
    key = next(iter(rt.projects))
    lines = [
        f"wasmwatch {__version__} listening on {url}",
        f"  data dir     {rt.data_dir}" + ("  (created)" if rt.first_start else ""),
    ]
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


async def serve(settings: Settings) -> None:
    from granian.constants import Interfaces
    from granian.server.embed import Server

    from wasmwatch.web.app import App

    runtime = Runtime(settings)
    await runtime.start()
    # what start-up made lives as long as the process: keep the collector off it, and let
    # young objects (a batch's rows) gather longer before each collection
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    server = Server(App(runtime), address=settings.host, port=settings.port,
                    interface=Interfaces.ASGINL, log_enabled=False, backlog=2048)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        runtime.live.close()  # end the event streams first, or they hold the server open
        server.stop()  # type: ignore[no-untyped-call]

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    print(banner(runtime), flush=True)
    try:
        await server.serve()
    finally:
        await runtime.stop()
        print("wasmwatch stopped; every accepted item is committed", flush=True)


def _run(coro: Any) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        asyncio.run(coro)
        return
    uvloop.run(coro)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        settings = load(flags)
    except ConfigError as exc:
        print(f"wasmwatch: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_levels)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            _run(serve(settings))
    except (StoreError, OSError) as exc:
        print(f"wasmwatch: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Baseline (a): the HTTP ceiling. A bare ASGI app on granian, embedded (ASGINL interface,
uvloop, one process): it reads the whole body and answers 200 ``{}`` without looking at it.
Issue 8's single-item target is set against it; ``wasmwatch serve`` itself now runs on
granian's RSGI interface, whose bare app costs about half the CPU per request (bench/RESULTS.md,
branch ``single8``).

Run: ``.venv/bin/python bench/ingest/bare_app.py --host 127.0.0.1 --port 8801``
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"2")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the body to the end, as a real handler must
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"{}"})


async def serve(host: str, port: int) -> None:
    from granian.constants import Interfaces
    from granian.server.embed import Server

    server = Server(app, address=host, port=port, interface=Interfaces.ASGINL,
                    log_enabled=False, backlog=2048)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stop)
    print(f"bare app listening on http://{host}:{port}", flush=True)
    await server.serve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8801)
    args = parser.parse_args()
    import uvloop

    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()

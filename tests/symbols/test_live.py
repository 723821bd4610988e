"""Symbols against a real `wasmwatch serve`: the CLI upload, and the opt-in fetch of a module
from the URL in a stack (a real HTTP server on loopback serves it)."""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, envelope, item
from tests.symbols.build import Built
from tests.symbols.engine import trap_stack


@pytest.fixture
def module_server(built: Built) -> Iterator[str]:
    """Serves the built modules on loopback; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built.debug.parent))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def send_error(server: LiveServer, stack: str, release: str) -> None:
    now = int(time.time() * 1000)
    items = [item("error", kind="unreachable", message="unreachable", stack=stack, ts=now)]
    r = httpx.post(f"{server.url}/api/v1/ingest?key={server.key}",
                   json=envelope(items, sent_at=now, release=release), timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def top_frames(server: LiveServer) -> list[dict[str, Any]]:
    r = httpx.get(f"{server.url}/api/v1/errors?window=1h", timeout=10,
                  headers={"authorization": f"Bearer {server.admin_token}"})
    r.raise_for_status()
    return [g["frames"][0] for g in r.json()["groups"]]


def test_cli_upload_to_a_running_server(live_server: LiveServer, built: Built) -> None:
    """`wasmwatch symbols upload app.wasm --release` stores it; errors of that release resolve."""
    send_error(live_server, trap_stack(built.stripped, "run", 5), "1.4.2")
    done = subprocess.run(
        [sys.executable, "-m", "wasmwatch", "symbols", "upload", str(built.debug), "--release", "1.4.2",
         "--server", live_server.url, "--token", live_server.admin_token],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "4 function names" in done.stdout
    [frame] = top_frames(live_server)
    assert (frame["function"], frame["line"]) == ("check", built.line_of("TRAP LINE"))


def test_cli_refuses_what_is_not_a_module(live_server: LiveServer, tmp_path: Path) -> None:
    """A file that is not wasm, or a wrong token: exit 1 with the reason."""
    bad = tmp_path / "x.wasm"
    bad.write_bytes(b"nope")
    base = [sys.executable, "-m", "wasmwatch", "symbols", "upload", "--server", live_server.url]
    done = subprocess.run([*base, str(bad), "--token", live_server.admin_token],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "not a WebAssembly module" in done.stderr
    good = tmp_path / "empty.wasm"
    good.write_bytes(b"\0asm\x01\0\0\0")
    done = subprocess.run([*base, str(good), "--token", "wrong"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "401" in done.stderr


@pytest.mark.parametrize("enabled", [True, False])
def test_opt_in_fetch_from_the_module_url(tmp_path: Path, built: Built, module_server: str,
                                          enabled: bool) -> None:
    """With the project opted in, the module at the stack's URL is fetched and resolves the
    errors (on a later read); without, nothing is fetched."""
    env = {"WASMWATCH_SYMBOLS_FETCH_PROJECTS": "default"} if enabled else {}
    server = LiveServer(tmp_path / "data", env=env).start()
    try:
        # a host name: IP addresses in stacks are scrubbed at ingest
        url = f"{module_server.replace('127.0.0.1', 'localhost')}/app.debug.wasm"
        send_error(server, re.sub(r"wasm://wasm/[0-9a-f]+", url, trap_stack(built.debug, "run", 5)), "9.9")
        deadline = time.monotonic() + 15
        frame = top_frames(server)[0]
        while enabled and frame["function"] is None and time.monotonic() < deadline:
            time.sleep(0.2)
            frame = top_frames(server)[0]
        if enabled:
            assert (frame["function"], frame["line"]) == ("check", built.line_of("TRAP LINE"))
        else:
            time.sleep(1)
            assert top_frames(server)[0]["function"] is None
    finally:
        server.stop()

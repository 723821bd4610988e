"""Bad starts of a real `wasmwatch serve`: one line on stderr, an exit code, no banner."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEY, TOKEN, LiveServer, free_port
from wasmwatch import listen
from wasmwatch.errors import StartupError

pytestmark = pytest.mark.server


def start(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WASMWATCH_INGEST_KEY": KEY, "WASMWATCH_ADMIN_TOKEN": TOKEN}
    return subprocess.run([sys.executable, "-m", "wasmwatch", "serve", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def refused(result: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert result.returncode == code, result
    assert result.stdout == "", "a banner was printed before the refusal"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wasmwatch: "), result.stderr
    assert words in lines[0], lines[0]


def test_port_taken_by_another_program(tmp_path: Path) -> None:
    """A port some other program listens on is refused in one line, exit 3."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = start("--port", str(port), "--data-dir", str(tmp_path / "d"))
    refused(result, 3, f"port {port} on 127.0.0.1 is already in use")


def test_second_server_on_a_taken_port_refuses(live_server: LiveServer, tmp_path: Path) -> None:
    """A second wasmwatch on a running one's port (its own data dir) refuses to start."""
    result = start("--port", str(live_server.port), "--data-dir", str(tmp_path / "other"))
    refused(result, 3, "already in use")
    assert httpx.get(live_server.url + "/readyz", timeout=5).status_code == 200
    assert not (tmp_path / "other" / "wasmwatch.duckdb").exists()


def test_second_server_on_the_same_data_dir_refuses(live_server: LiveServer) -> None:
    """Two servers never share one store: the data dir's lock names the holder's pid."""
    result = start("--port", str(free_port()), "--data-dir", str(live_server.data_dir))
    assert live_server.proc is not None
    refused(result, 3, f"is in use by another wasmwatch (pid {live_server.proc.pid})")


def test_port_out_of_range(tmp_path: Path) -> None:
    """Port 70000 is a settings error: exit 2."""
    refused(start("--port", "70000", "--data-dir", str(tmp_path / "d")), 2, "65535")


def test_unresolvable_host(tmp_path: Path) -> None:
    """A host name that cannot resolve (a 64-character label, refused before any DNS)."""
    host = "a" * 64 + ".invalid"
    refused(start("--host", host, "--data-dir", str(tmp_path / "d")), 3, "cannot resolve host")


def test_unwritable_data_dir(tmp_path: Path) -> None:
    """A data dir that cannot be created (its parent is a file) is refused in one line."""
    (tmp_path / "file").write_text("")
    result = start("--port", str(free_port()), "--data-dir", str(tmp_path / "file" / "data"))
    refused(result, 3, "is not writable")


def test_lock_is_released_for_the_next_server(tmp_path: Path) -> None:
    """A released data-dir lock can be taken again by the next server."""
    first = listen.lock_data_dir(tmp_path)
    with pytest.raises(StartupError, match="in use"):
        listen.lock_data_dir(tmp_path)
    first.release()
    listen.lock_data_dir(tmp_path).release()


def test_bind_is_exclusive_against_reuseport() -> None:
    """A socket bound by :func:`listen.bind` blocks a SO_REUSEPORT bind (as granian makes)."""
    sock = listen.bind("127.0.0.1", free_port())
    try:
        with socket.socket() as other:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            with pytest.raises(OSError):
                other.bind(sock.getsockname())
    finally:
        sock.close()

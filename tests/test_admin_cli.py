"""``wasmwatch projects`` and ``wasmwatch keys``: on a stopped data dir, and against a running server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import NOW, LiveServer, envelope, free_port, item, settings_for
from wasmwatch import listen
from wasmwatch.cli import main
from wasmwatch.clock import ManualClock
from wasmwatch.runtime import Runtime


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("WASMWATCH_"):
            monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main([*argv, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("WASMWATCH_")}
    return subprocess.run([sys.executable, "-m", "wasmwatch", *argv], env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=60)


def test_local_commands_change_the_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With no server running, the commands work on the file; a server started later uses them."""
    d = str(tmp_path / "data")
    made = run(capsys, "projects", "create", "shop", "--origin", "https://shop.example", "--data-dir", d)
    assert made["project"]["allowed_origins"] == ["https://shop.example"]
    assert [p["id"] for p in run(capsys, "projects", "list", "--data-dir", d)["projects"]] == ["default", "shop"]
    second = run(capsys, "keys", "create", "--project", "shop", "--label", "ci", "--data-dir", d)
    revoked = run(capsys, "keys", "revoke", made["key"]["key"], "--data-dir", d)
    assert revoked["active"] is False
    listed = run(capsys, "keys", "list", "--project", "shop", "--data-dir", d)["keys"]
    assert [(k["key"], k["active"]) for k in listed] == [(made["key"]["key"], False), (second["key"], True)]
    updated = run(capsys, "projects", "update", "shop", "--any-origin", "--name", "Shop", "--data-dir", d)
    assert (updated["allowed_origins"], updated["name"]) == ([], "Shop")
    assert main(["projects", "list", "--data-dir", d]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["ID", "NAME", "KEYS", "ALLOWED", "ORIGINS"]
    assert "Shop" in table and "any" in table
    listen.lock_data_dir(Path(d)).release()  # the commands let go of the data dir's lock


def test_local_commands_hold_the_data_dir_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """While another process holds the data dir (as `serve` does), the CLI does not touch the
    file: it goes to the admin API and says it cannot reach one."""
    d = tmp_path / "data"
    held = listen.lock_data_dir(d)
    try:
        assert main(["projects", "list", "--data-dir", str(d), "--token", "t",
                     "--config", str(write_port(tmp_path))]) == 1
    finally:
        held.release()
    err = capsys.readouterr().err
    assert "cannot reach the server at http://127.0.0.1:" in err and "--url" in err
    assert not (d / "wasmwatch.duckdb").exists()


def write_port(tmp_path: Path) -> Path:
    config = tmp_path / "ww.toml"
    config.write_text(f"port = {free_port()}\n")
    return config


async def test_server_started_later_honours_cli_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A key made and one revoked by the CLI are live and dead in the server that opens the dir."""
    d = tmp_path / "data"
    made = run(capsys, "projects", "create", "shop", "--data-dir", str(d))
    dead = run(capsys, "keys", "create", "--project", "shop", "--data-dir", str(d))
    run(capsys, "keys", "revoke", dead["key"], "--data-dir", str(d))
    rt = Runtime(settings_for(d), clock=ManualClock(NOW))
    await rt.start()
    try:
        assert rt.keyring.project_for(made["key"]["key"]) is not None
        assert rt.keyring.project_for(dead["key"]) is None
    finally:
        await rt.stop()


def test_errors_are_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown project, a bad id or an unknown key is one clear line on stderr, exit code 1."""
    d = str(tmp_path / "data")
    for argv, words in ((["keys", "create", "--project", "ghost"], "no such project: ghost"),
                        (["projects", "create", "Not OK"], "id: expected"),
                        (["keys", "revoke", "pk_ghost"], "no such ingest key"),
                        (["projects", "create", "default"], "exists already")):
        assert main([*argv, "--data-dir", d]) == 1
        err = capsys.readouterr().err
        assert err.startswith("wasmwatch: ") and words in err and err.count("\n") == 1, err


def ingest(server: LiveServer, key: str) -> int:
    r = httpx.post(f"{server.url}/api/v1/ingest", params={"key": key}, json=envelope([item(ts=int(time.time() * 1000))],
                   sent_at=int(time.time() * 1000)), timeout=10)
    return r.status_code


def test_cli_key_flow_against_a_running_server(live_server: LiveServer) -> None:
    """With `wasmwatch serve` running, the CLI goes through its admin API: a created key
    ingests at once, and after `keys revoke` the next request with it is 401."""
    d = str(live_server.data_dir)
    env = {"WASMWATCH_PORT": str(live_server.port), "WASMWATCH_ADMIN_TOKEN": live_server.admin_token}
    made = cli("projects", "create", "shop", "--data-dir", d, "--json", env=env)
    assert made.returncode == 0, made.stderr
    shop_key = json.loads(made.stdout)["key"]["key"]
    created = cli("keys", "create", "--project", "default", "--label", "ci", "--data-dir", d, env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.split()[2]
    assert created.stdout.startswith(f"ingest key {key} (project default)")
    assert ingest(live_server, key) == 200 and ingest(live_server, shop_key) == 200
    revoked = cli("keys", "revoke", key, "--url", live_server.url, "--token", live_server.admin_token)
    assert revoked.returncode == 0 and revoked.stdout.startswith(f"revoked {key}"), revoked.stderr
    assert ingest(live_server, key) == 401
    assert ingest(live_server, live_server.key) == 200
    shop_items = live_server.items(project="shop")
    assert len(shop_items) == 1 and shop_items[0]["project"] == "shop"


def test_locked_data_dir_without_token_says_what_to_do(live_server: LiveServer) -> None:
    """Without an admin token the CLI on a running server's data dir says to pass --token."""
    done = cli("keys", "list", "--data-dir", str(live_server.data_dir))
    assert done.returncode == 1
    assert "in use by a running server" in done.stderr and "--token" in done.stderr
    assert done.stderr.count("\n") == 1
    wrong = cli("keys", "list", "--url", live_server.url, "--token", "wrong")
    assert wrong.returncode == 1 and "401" in wrong.stderr


def test_stream_of_one_project_shows_none_of_another(live_server: LiveServer) -> None:
    """A live stream for one project gets no update for another project's items."""
    auth = {"authorization": f"Bearer {live_server.admin_token}"}
    made = httpx.post(f"{live_server.url}/api/v1/projects", json={"id": "other"}, headers=auth, timeout=10)
    other_key = made.json()["key"]["key"]
    got: list[str] = []

    def listen() -> None:
        with httpx.stream("GET", f"{live_server.url}/api/v1/stream", params={"project": "other"},
                          headers=auth, timeout=10) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    got.append(line)
                    return

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.5)
    now = int(time.time() * 1000)
    for key, n in ((live_server.key, 7), (other_key, 2)):
        r = httpx.post(f"{live_server.url}/api/v1/ingest", params={"key": key}, timeout=10,
                       json=envelope([item(ts=now) for _ in range(n)], sent_at=now))
        assert r.status_code == 200
        time.sleep(0.3)
    listener.join(10)
    assert got and '"items":2' in got[0]


def test_serve_refuses_a_revoked_ingest_key_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`wasmwatch serve` with a revoked WASMWATCH_INGEST_KEY stops with one line, no banner."""
    d = str(tmp_path / "data")
    (default_key,) = run(capsys, "keys", "list", "--data-dir", d)["keys"]
    run(capsys, "keys", "revoke", default_key["key"], "--data-dir", d)
    done = cli("serve", "--port", str(free_port()), "--data-dir", d,
               env={"WASMWATCH_INGEST_KEY": default_key["key"], "WASMWATCH_ADMIN_TOKEN": "t"})
    assert done.returncode != 0
    assert "listening" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "ingest_key was revoked" in lines[0], done.stderr

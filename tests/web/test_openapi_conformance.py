"""schemathesis against a real server: every operation of /openapi.json, with all its checks
(the few per-operation exclusions, each with its reason, are in schemathesis.toml here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEY, TOKEN, LiveServer

pytestmark = pytest.mark.server
CONFIG = Path(__file__).with_name("schemathesis.toml")
#: the whole run's budget: examples and coverage phases, then fuzzing until this many seconds
BUDGET_S = 40


def test_schemathesis_passes_all_checks(tmp_path: Path) -> None:
    """schemathesis finds no failure in a bounded run against `wasmwatch serve`."""
    server = LiveServer(tmp_path / "data", env={"WASMWATCH_RATE_LIMIT": "100000000"}).start()
    try:
        run = subprocess.run(
            [str(Path(sys.executable).with_name("st")), "--config-file", str(CONFIG), "run",
             server.url + "/openapi.json", "--max-examples", "10", "--max-time", str(BUDGET_S),
             "--seed", "2", "--header", f"Authorization: Bearer {TOKEN}",
             "--header", f"X-WasmWatch-Key: {KEY}",
             # an endless event stream: no answer to check, it is tested in tests/web/test_query.py
             "--exclude-path", "/api/v1/stream"],
            capture_output=True, text=True, timeout=BUDGET_S + 60, cwd=tmp_path)
        assert httpx.get(server.url + "/healthz").status_code == 200
    finally:
        server.stop()
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failures" not in run.stdout.split("SUMMARY")[-1]

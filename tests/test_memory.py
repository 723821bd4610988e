"""Memory settings of ``wasmwatch serve``: at start and when idle (their effect is measured in bench/)."""

from __future__ import annotations

import ctypes.util
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy._core.multiarray as multiarray
import pyarrow as pa
import pytest

from tests.conftest import LiveServer, envelope, item
from wasmwatch import memory


@pytest.fixture
def restored() -> Iterator[None]:
    pool = pa.default_memory_pool()
    hugepage: Any = multiarray._get_madvise_hugepage()  # type: ignore[attr-defined]
    yield
    pa.set_memory_pool(pool)
    multiarray._set_madvise_hugepage(hugepage)  # type: ignore[attr-defined]


def test_tune_process_turns_huge_pages_off_and_arrow_onto_malloc(restored: None) -> None:
    multiarray._set_madvise_hugepage(True)  # type: ignore[attr-defined]
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    memory.tune_process()
    assert multiarray._get_madvise_hugepage() is False  # type: ignore[attr-defined]
    assert pa.default_memory_pool().backend_name == "system"
    assert pa.array(list(range(1000))).sum().as_py() == 499_500  # Arrow still allocates


def test_trim_runs_where_glibc_is() -> None:
    has_glibc = ctypes.util.find_library("c") is not None and hasattr(
        ctypes.CDLL(ctypes.util.find_library("c")), "malloc_trim")
    assert memory.trim() is has_glibc


_SERVING_PATH = """
import asyncio, json, sys, tempfile
from wasmwatch.config import load
from wasmwatch.runtime import Runtime
from wasmwatch.web.app import App

async def main(webhook):
    flags = {"data_dir": tempfile.mkdtemp()}
    if webhook:
        flags["alert_webhook_url"] = "http://127.0.0.1:9/hook"
    runtime = Runtime(load(flags, {}))
    await runtime.start()
    App(runtime)
    loaded = sorted(m for m in ("httpx", "elftools", "aiosmtplib", "google.protobuf")
                    if m in sys.modules)
    await runtime.stop()
    print(json.dumps(loaded))

asyncio.run(main(sys.argv[1] == "webhook"))
"""


def _loaded_by_a_started_server(*args: str) -> list[str]:
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _SERVING_PATH, *args], capture_output=True,
                         text=True, timeout=120, check=True)
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_a_started_server_imports_no_http_client_dwarf_reader_smtp_or_protobuf_until_used() -> None:
    """httpx, pyelftools, aiosmtplib and protobuf stay unloaded when no channel, upload or
    protobuf OTLP body needs them."""
    assert _loaded_by_a_started_server("plain") == []


def test_a_webhook_channel_loads_httpx_at_start() -> None:
    """A configured webhook still gets its client when the server starts."""
    assert _loaded_by_a_started_server("webhook") == ["httpx"]


def test_prepare_environment_sets_the_system_pool_and_no_huge_pages_unless_set() -> None:
    """Arrow's pool and numpy's huge pages go into the environment; a value given stays."""
    environ = {"NUMPY_MADVISE_HUGEPAGE": "1"}
    memory.prepare_environment(environ)
    assert environ == {"ARROW_DEFAULT_MEMORY_POOL": "system", "NUMPY_MADVISE_HUGEPAGE": "1"}


def test_an_idle_spell_pages_out_once_after_its_length() -> None:
    """Idle (under 2.5 % of a core, nothing waiting) for after_s: one page-out, not one per tick."""
    spell = memory.IdleSpell(after_s=30)
    ticks = [spell.tick(now, cpu_s=now * 0.01) for now in range(0, 100, 5)]
    assert ticks.index(True) == 6 and ticks.count(True) == 1  # at 30 s, once


def test_work_starts_a_new_idle_spell() -> None:
    """CPU above the share, or items waiting, re-arm it: idle again for after_s, then again once."""
    spell = memory.IdleSpell(after_s=10)
    assert [spell.tick(t, 0.0) for t in (0, 5, 10, 15)] == [False, False, True, False]
    assert spell.tick(20, 0.2) is False  # 0.2 s of CPU in 5 s: busy
    assert [spell.tick(t, 0.2) for t in (25, 30)] == [False, True]
    assert spell.tick(35, 0.2, waiting=3) is False  # items waiting to be committed: busy
    assert [spell.tick(t, 0.2) for t in (40, 45)] == [False, True]


_ARENAS = """
import ctypes, sys, tempfile, threading
from wasmwatch import memory
if sys.argv[1] != "0":
    assert memory.limit_arenas(int(sys.argv[1]))
buffers = []
def work():
    for _ in range(2000):
        buffers.append(bytearray(1000))
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
path = tempfile.mktemp()
fp = libc.fopen(path.encode(), b"w")
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
libc.malloc_info(0, fp)
libc.fclose(fp)
print(open(path).read().count("<heap nr="))
"""


@pytest.mark.skipif(memory._libc() is None, reason="glibc only")
def test_limit_arenas_keeps_threads_on_one_malloc_arena() -> None:
    """Six threads allocating get arenas of their own by default, share one when limited."""
    import subprocess
    import sys

    def heaps(limit: int) -> int:
        out = subprocess.run([sys.executable, "-c", _ARENAS, str(limit)], capture_output=True,
                             text=True, timeout=60, check=True)
        return int(out.stdout.strip())

    assert heaps(0) > 1
    assert heaps(1) == 1


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _share_no_pages() -> None:
    """The kernel leaves a page alone that another process maps too, and this test process has
    mapped the same libraries (DuckDB, Arrow) as the server it starts: drop its own first."""
    memory.page_out()


@pytest.mark.server
@pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup"), reason="Linux only")
def test_an_idle_server_gives_its_library_pages_back_and_still_answers(tmp_path: Path) -> None:
    """A real server: after work and an idle spell its RssFile falls; the next request is right."""
    _share_no_pages()
    server = LiveServer(tmp_path / "data", env={"WASMWATCH_MEMORY_PAGEOUT_IDLE_S": "1",
                                               "WASMWATCH_MEMORY_TRIM_INTERVAL_S": "0.5"}).start()
    try:
        assert server.proc is not None
        pid = server.proc.pid
        now = int(time.time() * 1000)
        admin = {"authorization": f"Bearer {server.admin_token}"}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            answer = http.post("/api/v1/ingest", params={"key": server.key},
                               json=envelope([item(ts=now, id="paged-1")], sent_at=now))
            assert answer.status_code == 200, answer.text
            for path in ("/api/v1/summary", "/api/v1/errors", "/dashboard/"):
                assert http.get(path, headers=admin).status_code == 200
            after_work = _status_kb(pid, "RssFile")
            deadline = time.monotonic() + 60
            while _status_kb(pid, "RssFile") > after_work - 10_240:  # 10 MB back to the kernel
                assert time.monotonic() < deadline, (after_work, _status_kb(pid, "RssFile"))
                time.sleep(0.2)
            assert [row["id"] for row in server.items(id="paged-1")] == ["paged-1"]
    finally:
        server.stop()


@pytest.mark.server
@pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup"), reason="Linux only")
def test_a_started_server_has_given_back_the_pages_only_its_start_used(tmp_path: Path) -> None:
    """Ready with the page-out on: 10 MB or more less RssFile than the same start without it."""
    ready: dict[str, int] = {}
    for idle_s in ("0", "30"):  # one after the other: a page both map is not paged out
        _share_no_pages()
        server = LiveServer(tmp_path / f"data{idle_s}",
                            env={"WASMWATCH_MEMORY_PAGEOUT_IDLE_S": idle_s}).start()
        try:
            assert server.proc is not None
            ready[idle_s] = _status_kb(server.proc.pid, "RssFile")
        finally:
            server.stop()
    assert ready["30"] < ready["0"] - 10_240, ready



def test_a_serving_process_never_imports_pandas_through_arrow(live_server: LiveServer) -> None:
    """pyarrow would import pandas (installed here: chdb brings it) on the first Arrow array
    of a list, 47 MB of RSS; `wasmwatch serve` keeps it out, through ingest, queries and
    /metrics."""
    pytest.importorskip("pandas")
    now = int(time.time() * 1000)
    items = [item(id=f"p{i}", ts=now - i) for i in range(50)]
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        assert client.post(f"/api/v1/ingest?key={live_server.key}",
                           json=envelope(items)).status_code == 200
        auth = {"authorization": f"Bearer {live_server.admin_token}"}
        assert client.get("/api/v1/summary?window=1h", headers=auth).status_code == 200
        assert client.get("/metrics", headers=auth).status_code == 200
    assert live_server.proc is not None
    maps = Path(f"/proc/{live_server.proc.pid}/maps").read_text()
    assert "/pandas/" not in maps

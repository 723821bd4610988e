"""Start-up memory settings of ``wasmwatch serve`` (their effect is measured in bench/)."""

from __future__ import annotations

import ctypes.util
from collections.abc import Iterator
from typing import Any

import numpy._core.multiarray as multiarray
import pyarrow as pa
import pytest

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
    loaded = sorted(m for m in ("httpx", "elftools", "aiosmtplib") if m in sys.modules)
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


def test_a_started_server_imports_no_http_client_dwarf_reader_or_smtp_until_used() -> None:
    """httpx, pyelftools and aiosmtplib stay unloaded when no channel or upload needs them."""
    assert _loaded_by_a_started_server("plain") == []


def test_a_webhook_channel_loads_httpx_at_start() -> None:
    """A configured webhook still gets its client when the server starts."""
    assert _loaded_by_a_started_server("webhook") == ["httpx"]

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

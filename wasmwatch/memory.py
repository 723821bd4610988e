"""Process memory: settings made once at start, and giving freed memory back when idle.

Measured in ``bench/RESULTS.md`` (memory3); the first two lowered RSS there, the third is
kept because it is cheap (it gave back at most 3 MB in every probe):

* numpy's transparent huge pages are turned off (:func:`tune_process`). numpy advises the
  kernel to back every array of 4 MiB or more with 2 MiB pages; the dedup filter
  (``seen_filter_mb``, 32 MiB, allocated lazily) then became ~24 MB resident after a first
  commit of 20 items (each key touched a whole 2 MiB page) instead of a few 4 KiB pages. The
  environment variable ``NUMPY_MADVISE_HUGEPAGE=0`` does the same before numpy is imported.
* Arrow allocates from the C library's malloc, not its bundled mimalloc
  (:func:`tune_process`; ``ARROW_DEFAULT_MEMORY_POOL=system`` does the same): mimalloc kept
  the memory of a burst of large commits resident after they were done (it reserves a 1 GiB
  arena and did not give freed pages back here), glibc's heap gives it back with :func:`trim`.
* :func:`trim` asks glibc to return the free memory at the top of its heaps and in its
  per-thread arenas to the kernel (``malloc_trim``), once the writer has been idle for a while
  (``Runtime``, every ``memory_trim_interval_s`` while nothing waits to be committed): a
  burst of large commits otherwise leaves it mapped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)


def tune_process() -> None:
    """Once, at the start of ``wasmwatch serve``."""
    import pyarrow as pa

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())
    try:
        import numpy._core.multiarray as multiarray
    except ImportError:  # pragma: no cover - numpy 1.x names it numpy.core
        return
    setter: Any = getattr(multiarray, "_set_madvise_hugepage", None)
    if setter is not None:
        setter(False)


@lru_cache(maxsize=1)
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - not on Linux
        return None
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, "malloc_trim") else None  # glibc only (not musl, not macOS)


def trim() -> bool:
    """Return glibc's free heap memory to the kernel; False where there is no glibc."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True

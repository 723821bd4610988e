"""Process memory: settings made once at start, and giving freed memory back when idle.

Measured in ``bench/RESULTS.md`` (memory3 for the first three: the first two lowered RSS
there, the third is kept because it is cheap, it gave back at most 3 MB in every probe;
memory5 for the last two):

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
* :func:`limit_arenas` keeps glibc to ``malloc_arena_max`` arenas (1) instead of one per
  thread, each holding the holes of what its thread freed.
* :func:`page_out` hands the pages of the shared libraries back to the kernel once the process
  has been idle for ``memory_pageout_idle_s`` (:class:`IdleSpell` decides when, once per idle
  spell), and once when the start is done (``wasmwatch serve``): under load the process then
  maps again only the pages that serving needs (85 MB of library pages instead of 110 at
  twice capacity). Half of an idle server's RSS is file-backed: DuckDB's module alone keeps
  ~50 MB of its code resident, libarrow ~28, libarrow_compute ~12, mostly pages touched once
  at start.
  ``madvise(MADV_PAGEOUT)`` (Linux 5.4 on) reclaims those pages: they leave the RSS *and* the
  page cache (the memory is free for others, not only uncounted), unless another process maps
  them too, which the kernel then leaves alone. The price is paid by the next work: every
  page it needs is read back from the file (major faults); ``bench/memory.py --price``
  measures it. Anonymous memory is not touched (without swap the kernel could not move it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.abc
import logging
import os
import sys
from collections.abc import MutableMapping
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def prepare_environment(environ: MutableMapping[str, str] = os.environ) -> None:
    """Before numpy and Arrow are first used (``wasmwatch`` calls it first thing): the same two
    settings as :func:`tune_process`, through the environment, for what runs before it. A
    module that builds an Arrow array when it is imported (``store/writer.py``) otherwise
    starts Arrow's default pool, mimalloc, whose first segment keeps 4 MB resident (two 2 MiB
    huge pages) for the life of the process. Values already set are left alone."""
    environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")


class _Hidden(importlib.abc.MetaPathFinder):
    """An import finder that makes one top-level package (and its modules) not found."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname == self.name or fullname.startswith(self.name + "."):
            raise ImportError(f"{fullname} is hidden from pyarrow", name=fullname)


def arrow_without_pandas() -> None:
    """Keep pyarrow from importing pandas, before anything builds an Arrow array (``wasmwatch
    serve`` calls it before it imports the server). Where pandas is installed (chdb, the
    ClickHouse extra, brings it), pyarrow imports it on its first ``pa.array`` of a list, to
    check whether the list is a pandas object: 47 MB more RSS for the life of the process
    (``bench/RESULTS.md``, queue9). wasmwatch never hands pandas objects to Arrow, so
    pyarrow's one attempt is made here with pandas hidden; pyarrow remembers the answer, and
    pandas itself stays importable for whoever needs it. Nothing to do when pandas is
    imported already."""
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    finder = _Hidden("pandas")
    sys.meta_path.insert(0, finder)
    try:
        pa.array([])  # pyarrow's pandas check, tried once per process
    finally:
        sys.meta_path.remove(finder)


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


M_ARENA_MAX = -8  # <malloc.h>


def limit_arenas(count: int) -> bool:
    """At most ``count`` glibc malloc arenas for the threads made from now on (``mallopt``);
    False where there is no glibc. glibc's default, 8 per core, gives most threads an arena
    of their own, and each keeps the holes its freed memory leaves: with one, an idle server
    held 6-8 MB less after the dashboard's queries, at the same ingest capacity (memory5)."""
    libc = _libc()
    if libc is None or count <= 0:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, count))


def trim() -> bool:
    """Return glibc's free heap memory to the kernel; False where there is no glibc."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


MADV_PAGEOUT = 21  # <linux/mman-common.h>, Linux 5.4


def page_out(maps: Path = Path("/proc/self/maps")) -> int | None:
    """Reclaim the resident pages of this process's read-only file mappings.

    Advises ``MADV_PAGEOUT`` on every private, read-only mapping of a file (the code and
    constants of the executable and its shared libraries): writable and shared mappings and
    anonymous memory are left alone. Returns the kB of RssFile given back, or None where the
    kernel or the C library cannot (not Linux, or older than 5.4).
    """
    libc = _madvise_libc()
    if libc is None or not maps.exists():
        return None
    before = _rss_file_kb()
    for line in maps.read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or not fields[5].startswith("/") or fields[1] not in ("r--p", "r-xp"):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if libc.madvise(start, end - start, MADV_PAGEOUT) != 0:
            if ctypes.get_errno() == 22:  # EINVAL: a kernel without MADV_PAGEOUT
                return None
            continue  # e.g. a mapping unmapped since the read: the next one
    return max(0, before - _rss_file_kb())


@lru_cache(maxsize=1)
def _madvise_libc() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - not on Linux
        return None
    libc = ctypes.CDLL(name, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.madvise.restype = ctypes.c_int
    return libc


def _rss_file_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    return 0  # pragma: no cover - a kernel without the field


class IdleSpell:
    """When to page out: once the process has been idle for ``after_s``, once per idle spell.

    Idle means under ``max_cpu_share`` of one core (all threads: the HTTP server's, the
    writer's, DuckDB's) between two calls and nothing waiting to be committed; the periodic
    jobs of an idle server (metrics poll, alert checks, maintenance) took 0-90 ms per 5 s
    (under 1.8 %), an ingest and the dashboard's queries 270 ms.
    After a page-out the next one waits for work and a new idle spell, so the pages that an
    idle server's own jobs touch again are not reclaimed over and over.
    """

    def __init__(self, after_s: float, max_cpu_share: float = 0.025) -> None:
        self.after_s = after_s
        self.max_cpu_share = max_cpu_share
        self._last: tuple[float, float] | None = None
        self._idle_since = 0.0
        self._armed = True

    def tick(self, now_s: float, cpu_s: float, waiting: int = 0) -> bool:
        """True when it is time to page out (``now_s`` monotonic, ``cpu_s`` process CPU)."""
        last, self._last = self._last, (now_s, cpu_s)
        if last is None:
            self._idle_since = now_s
            return False
        spent = (cpu_s - last[1]) / max(now_s - last[0], 1e-9)
        if waiting or spent > self.max_cpu_share:
            self._idle_since, self._armed = now_s, True
            return False
        if self._armed and now_s - self._idle_since >= self.after_s:
            self._armed = False
            return True
        return False


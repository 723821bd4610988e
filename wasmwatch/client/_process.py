"""The host process's own numbers, from the standard library: memory, CPU, threads, GC.

Resident memory comes from ``/proc/self/statm`` where there is one (Linux), else the peak RSS
of ``resource.getrusage``; CPU is user + system seconds; GC collections and the time spent in
them are counted by a ``gc.callbacks`` hook installed by :class:`GcMeter`.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from typing import Any

__all__ = ["GcMeter", "sample"]

try:
    _PAGE = os.sysconf("SC_PAGE_SIZE")
except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
    _PAGE = 4096


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if os.uname().sysname == "Darwin" else peak * 1024)


class GcMeter:
    """Counts collections and their milliseconds while installed (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.count = 0
        self.ms = 0.0
        self._start = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.count += 1
            self.ms += (time.perf_counter() - self._start) * 1000.0

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)


def sample(meter: GcMeter) -> dict[str, Any]:
    """The fields of a ``server_process`` item, now."""
    times = os.times()
    fields: dict[str, Any] = {"cpu_s": round(times.user + times.system, 6),
                              "threads": threading.active_count(),
                              "gc_count": meter.count, "gc_ms": round(meter.ms, 3)}
    rss = _rss_bytes()
    if rss is not None:
        fields["rss_bytes"] = rss
    return fields

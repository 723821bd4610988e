"""The server's own vital signs, polled periodically (every 10 s by default).

:meth:`Poller.poll_once` reads the process (resident memory, CPU seconds and the CPU share
since the previous poll, threads, open file descriptors), the garbage collector (objects per
generation, collections, pause time) and the event-loop lag measured by :meth:`Poller.run`; it
sets gauges and executes :data:`~wasmwatch.telemetry.events.VM_POLL` with these measurements:

``memory_rss_bytes``, ``cpu_seconds``, ``cpu_percent`` (from the second poll on; 100 is one
core), ``threads``, ``open_fds``, ``gc_objects_<gen>``, ``gc_collections_<gen>``,
``gc_pause_seconds`` (total), ``gc_max_pause_seconds`` (longest since the previous poll),
``loop_lag_seconds`` (when known).

On a registry the poller registers prometheus_client's own ``ProcessCollector`` and
``GCCollector`` (``process_cpu_seconds_total``, ``process_resident_memory_bytes``,
``process_open_fds``, ``python_gc_collections_total``, ...: counters for what only grows), and
adds gauges for the rest: ``wasmwatch_process_cpu_percent``, ``wasmwatch_process_threads``,
``wasmwatch_python_gc_objects{generation}``, ``wasmwatch_python_gc_max_pause_seconds`` and
``wasmwatch_event_loop_lag_seconds``, plus the counter ``wasmwatch_python_gc_pause_seconds_total``.

The time of a poll is an argument, so tests need no sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable
from typing import Any

import psutil
from prometheus_client import REGISTRY, CollectorRegistry, Gauge
from prometheus_client import Counter as PromCounter
from prometheus_client.gc_collector import GCCollector
from prometheus_client.process_collector import ProcessCollector

from wasmwatch.telemetry.bus import Bus, default_bus
from wasmwatch.telemetry.events import VM_POLL

__all__ = ["GcTimer", "Poller"]

_log = logging.getLogger(__name__)


class GcTimer:
    """Times garbage collection pauses through ``gc.callbacks`` while installed."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._started: float | None = None
        self.total_seconds = 0.0
        self.collections = 0
        self._max_seconds = 0.0

    def install(self) -> None:
        """Start timing collections (idempotent)."""
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    def uninstall(self) -> None:
        """Stop timing collections."""
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)

    def take_max(self) -> float:
        """The longest pause since the previous call."""
        longest, self._max_seconds = self._max_seconds, 0.0
        return longest

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self._clock()
        elif self._started is not None:
            pause = self._clock() - self._started
            self._started = None
            self.total_seconds += pause
            self.collections += 1
            self._max_seconds = max(self._max_seconds, pause)


def _open_fds(process: Any) -> int:
    if hasattr(process, "num_fds"):
        return int(process.num_fds())
    return int(process.num_handles())  # Windows


class Poller:
    """Reads the process and the runtime; sets gauges and executes ``VM_POLL``."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        bus: Bus = default_bus,
        *,
        process: Any = None,
        gc_timer: GcTimer | None = None,
    ) -> None:
        self._bus = bus
        self._process = process if process is not None else psutil.Process()
        self.gc_timer = gc_timer if gc_timer is not None else GcTimer()
        self._previous: tuple[float, float] | None = None  # (now, cpu seconds)
        self._gauges: dict[str, Gauge] = {}
        self._gc_pause_reported = 0.0
        if registry is not None:
            self._make_gauges(registry)

    def _make_gauges(self, registry: CollectorRegistry) -> None:
        def gauge(key: str, name: str, doc: str, labels: tuple[str, ...] = ()) -> None:
            self._gauges[key] = Gauge(name, doc, labels, registry=registry)

        if registry is not REGISTRY:  # prometheus_client's default registry has them already
            ProcessCollector(registry=registry)
            GCCollector(registry=registry)
        gauge("cpu_percent", "wasmwatch_process_cpu_percent", "CPU share over the last poll")
        gauge("threads", "wasmwatch_process_threads", "OS threads")
        gauge("gc_objects", "wasmwatch_python_gc_objects", "GC allocation counts",
              ("generation",))
        gauge("gc_max_pause_seconds", "wasmwatch_python_gc_max_pause_seconds",
              "Longest GC pause since the previous poll")
        gauge("loop_lag_seconds", "wasmwatch_event_loop_lag_seconds", "Event-loop lag")
        self._gc_pause = PromCounter("wasmwatch_python_gc_pause_seconds", "Total GC pause time",
                                     registry=registry)

    def poll_once(self, now: float, loop_lag: float | None = None) -> dict[str, float]:
        """Read everything once at monotonic time ``now``; returns the measurements."""
        m = self._process_measurements(now)
        for generation, objects in enumerate(gc.get_count()):
            m[f"gc_objects_{generation}"] = float(objects)
        for generation, stats in enumerate(gc.get_stats()):
            m[f"gc_collections_{generation}"] = float(stats["collections"])
        m["gc_pause_seconds"] = self.gc_timer.total_seconds
        m["gc_max_pause_seconds"] = self.gc_timer.take_max()
        if loop_lag is not None:
            m["loop_lag_seconds"] = loop_lag
        self._set_gauges(m)
        self._bus.execute(VM_POLL, m, {})
        return m

    def _process_measurements(self, now: float) -> dict[str, float]:
        process = self._process
        with process.oneshot():
            cpu = process.cpu_times()
            cpu_seconds = float(cpu.user + cpu.system)
            m = {
                "memory_rss_bytes": float(process.memory_info().rss),
                "cpu_seconds": cpu_seconds,
                "threads": float(process.num_threads()),
                "open_fds": float(_open_fds(process)),
            }
        if self._previous is not None and now > self._previous[0]:
            then, cpu_then = self._previous
            m["cpu_percent"] = max(0.0, 100.0 * (cpu_seconds - cpu_then) / (now - then))
        self._previous = (now, cpu_seconds)
        return m

    def _set_gauges(self, m: dict[str, float]) -> None:
        if not self._gauges:
            return
        for key, value in m.items():
            head, _, generation = key.rpartition("_")
            if key in self._gauges:
                self._gauges[key].set(value)
            elif head == "gc_objects":
                self._gauges[head].labels(generation=generation).set(value)
        pause = m["gc_pause_seconds"]
        self._gc_pause.inc(max(0.0, pause - self._gc_pause_reported))
        self._gc_pause_reported = max(pause, self._gc_pause_reported)

    async def run(self, interval: float = 10.0, stop: asyncio.Event | None = None) -> None:
        """Poll every ``interval`` seconds until ``stop`` is set, timing GC meanwhile.

        Event-loop lag is how late the loop wakes this task after each interval.
        """
        loop = asyncio.get_running_loop()
        stop = stop if stop is not None else asyncio.Event()
        self.gc_timer.install()
        lag: float | None = None
        try:
            while not stop.is_set():
                try:
                    self.poll_once(loop.time(), lag)
                except Exception:
                    _log.warning("server telemetry poll failed", exc_info=True)
                deadline = loop.time() + interval
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)
                lag = max(0.0, loop.time() - deadline)
        finally:
            self.gc_timer.uninstall()

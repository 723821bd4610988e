"""Tests for wasmwatch.telemetry.poller."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from wasmwatch.telemetry import events
from wasmwatch.telemetry.bus import Bus, Event, Measurements, Metadata
from wasmwatch.telemetry.poller import GcTimer, Poller

from .helpers import sample, scrape


class FakeProcess:
    """A psutil.Process double with settable CPU time."""

    def __init__(self) -> None:
        self.cpu = 10.0

    @contextlib.contextmanager
    def oneshot(self) -> Iterator[None]:
        yield

    def cpu_times(self) -> SimpleNamespace:
        return SimpleNamespace(user=self.cpu * 0.75, system=self.cpu * 0.25)

    def memory_info(self) -> SimpleNamespace:
        return SimpleNamespace(rss=50_000_000)

    def num_threads(self) -> int:
        return 4

    def num_fds(self) -> int:
        return 12


def polls(bus: Bus) -> list[dict[str, float]]:
    """Measurements of every VM_POLL event executed on ``bus`` from now on."""
    seen: list[dict[str, float]] = []

    def record(event: Event, m: Measurements, meta: Metadata, config: Any) -> None:
        seen.append(dict(m))

    bus.attach("test.polls", [events.VM_POLL], record)
    return seen


def test_real_process_values_are_sane(bus: Bus, registry: CollectorRegistry) -> None:
    """Polling this process gives plausible memory, CPU, threads, fds and GC figures."""
    m = Poller(registry, bus).poll_once(now=100.0)
    assert 1_000_000 < m["memory_rss_bytes"] < 100_000_000_000
    assert m["cpu_seconds"] > 0
    assert m["threads"] >= 1
    assert m["open_fds"] >= 3
    assert m["gc_collections_0"] >= 0 and "gc_objects_2" in m
    assert "cpu_percent" not in m and "loop_lag_seconds" not in m


def test_cpu_percent_from_the_second_poll(bus: Bus) -> None:
    """CPU share is CPU seconds over elapsed time since the previous poll."""
    process = FakeProcess()
    poller = Poller(None, bus, process=process)
    poller.poll_once(now=100.0)
    process.cpu += 5.0
    assert poller.poll_once(now=110.0)["cpu_percent"] == pytest.approx(50.0)


def test_gauges_are_set(bus: Bus, registry: CollectorRegistry) -> None:
    """A poll sets the gauges on the registry; what only grows is a counter."""
    poller = Poller(registry, bus, process=FakeProcess())
    poller.gc_timer.total_seconds = 0.25
    poller.poll_once(now=1.0, loop_lag=0.003)
    poller.gc_timer.total_seconds = 0.5
    poller.poll_once(now=2.0)
    s = scrape(registry)
    assert sample(s, "wasmwatch_process_threads") == 4
    assert sample(s, "wasmwatch_event_loop_lag_seconds") == 0.003
    assert sample(s, "wasmwatch_python_gc_objects", generation="2") >= 0
    assert sample(s, "wasmwatch_python_gc_pause_seconds_total") == 0.5


def test_process_and_gc_come_from_prometheus_client(bus: Bus, registry: CollectorRegistry) -> None:
    """CPU, memory, open files and GC collections are prometheus_client's own collectors."""
    Poller(registry, bus, process=FakeProcess())
    s = scrape(registry)
    assert sample(s, "process_cpu_seconds_total") > 0
    assert sample(s, "process_resident_memory_bytes") > 0
    assert sample(s, "process_open_fds") >= 3
    assert sample(s, "python_gc_collections_total", generation="2") >= 0
    assert not any(name in ("wasmwatch_process_cpu_seconds", "wasmwatch_python_gc_collections")
                   for name, _ in s)


def test_poll_executes_the_vm_event(bus: Bus) -> None:
    """Each poll executes VM_POLL with its measurements."""
    seen = polls(bus)
    m = Poller(None, bus, process=FakeProcess()).poll_once(now=1.0)
    assert seen == [m]


def test_gc_timer_measures_pauses() -> None:
    """While installed, the GC timer adds up collection pauses."""
    timer = GcTimer()
    timer.install()
    try:
        gc.collect()
    finally:
        timer.uninstall()
    assert timer.collections >= 1 and timer.total_seconds > 0
    assert 0 < timer.take_max() <= timer.total_seconds
    assert timer.take_max() == 0.0


def test_gc_timer_install_is_idempotent_and_uninstall_removes() -> None:
    """Installing twice registers one callback; uninstalling removes it."""
    timer = GcTimer()
    timer.install()
    timer.install()
    assert gc.callbacks.count(timer._on_gc) == 1
    timer.uninstall()
    timer.uninstall()
    assert timer._on_gc not in gc.callbacks


async def test_run_polls_until_stopped_and_measures_lag(bus: Bus) -> None:
    """run() polls each interval, reports loop lag after the first, and stops on the event."""
    seen = polls(bus)
    poller = Poller(None, bus, process=FakeProcess())
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(interval=0.01, stop=stop))
    while len(seen) < 3:
        await asyncio.sleep(0.005)
    stop.set()
    await asyncio.wait_for(task, 1.0)
    assert "loop_lag_seconds" not in seen[0]
    assert all(0 <= m["loop_lag_seconds"] < 1.0 for m in seen[1:])
    assert poller.gc_timer._on_gc not in gc.callbacks


async def test_run_survives_a_failing_poll(bus: Bus) -> None:
    """A poll that raises is logged and the loop keeps going."""
    process = FakeProcess()
    process.memory_info = None  # type: ignore[assignment,method-assign]
    poller = Poller(None, bus, process=process)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(interval=0.001, stop=stop))
    await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 1.0)
    assert task.exception() is None

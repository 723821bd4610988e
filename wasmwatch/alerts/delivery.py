"""Delivery off the evaluation path: a bounded queue and one worker per channel.

:meth:`Dispatcher.submit` never waits: it puts the notification on each channel's queue (a
full queue drops it, counted as ``dropped``). Each channel's worker sends one at a time with a
timeout per attempt and retries with exponential backoff, so a dead or hanging channel holds
up only its own queue, never ingest, evaluation or another channel. Every attempt is handed to
``record`` (persisted as the alert's delivery history) and counted on ``/metrics`` as
``wasmwatch_alert_deliveries_total{channel, outcome}`` with outcome ``ok``, ``error``,
``timeout``, ``gave_up`` (the last attempt failed) or ``dropped``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from wasmwatch.alerts.channels.base import Channel, ChannelError, Notification

__all__ = ["Attempt", "Dispatcher"]

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Attempt:
    alert_id: str
    channel: str
    kind: str
    attempt: int
    at_ms: int
    outcome: str  # ok, error, timeout
    error: str | None
    duration_ms: float

    def as_dict(self) -> dict[str, object]:
        return {"channel": self.channel, "kind": self.kind, "attempt": self.attempt,
                "at": self.at_ms, "outcome": self.outcome, "error": self.error,
                "duration_ms": round(self.duration_ms, 2)}


class Dispatcher:
    def __init__(
        self, channels: Sequence[Channel], *, record: Callable[[Attempt], None],
        registry: CollectorRegistry | None = None, now_ms: Callable[[], int] = lambda: 0,
        queue_size: int = 1000, attempts: int = 4, timeout_s: float = 5.0,
        backoff_s: float = 0.5, backoff_max_s: float = 30.0, sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.channels = {c.name: c for c in channels}
        self.record = record
        self.now_ms = now_ms
        self.attempts = attempts
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.sleep = sleep
        self._queues: dict[str, asyncio.Queue[Notification]] = {
            name: asyncio.Queue(queue_size) for name in self.channels}
        self._tasks: list[asyncio.Task[None]] = []
        self.counter = Counter("wasmwatch_alert_deliveries", "Alert notification attempts by "
                               "channel and outcome", ["channel", "outcome"],
                               registry=registry)
        for name in self.channels:
            for outcome in ("ok", "error", "timeout", "gave_up", "dropped"):
                self.counter.labels(name, outcome)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work(name), name=f"wasmwatch-alert-{name}")
                       for name in self.channels]

    def submit(self, notification: Notification) -> None:
        """Queue for every channel; never blocks."""
        for name, queue in self._queues.items():
            try:
                queue.put_nowait(notification)
            except asyncio.QueueFull:
                self.counter.labels(name, "dropped").inc()
                log.error("alert channel %s: queue full, notification for %s dropped",
                          name, notification.alert.rule)

    async def _work(self, name: str) -> None:
        queue = self._queues[name]
        while True:
            notification = await queue.get()
            try:
                await self.deliver(self.channels[name], notification)
            except Exception:  # a channel bug must not end its worker
                log.exception("alert channel %s failed", name)
            finally:
                queue.task_done()

    async def attempt(self, channel: Channel, n: Notification, number: int) -> Attempt:
        """One timed attempt, counted and recorded."""
        started, at = time.perf_counter(), self.now_ms()
        error: str | None = None
        try:
            await asyncio.wait_for(channel.send(n), self.timeout_s)
            outcome = "ok"
        except TimeoutError:
            outcome, error = "timeout", f"no answer within {self.timeout_s:g} s"
        except ChannelError as exc:
            outcome, error = "error", str(exc)[:500]
        result = Attempt(n.alert.id, channel.name, n.kind, number, at, outcome, error,
                         (time.perf_counter() - started) * 1000)
        self.counter.labels(channel.name, outcome).inc()
        try:
            self.record(result)
        except Exception:
            log.exception("recording a delivery attempt failed")
        return result

    async def deliver(self, channel: Channel, n: Notification) -> bool:
        """Send with retries and backoff; True once an attempt succeeded."""
        delay = self.backoff_s
        for number in range(1, self.attempts + 1):
            result = await self.attempt(channel, n, number)
            if result.outcome == "ok":
                return True
            log.warning("alert channel %s attempt %d for %s: %s", channel.name, number,
                        n.alert.rule, result.error)
            if number < self.attempts:
                await self.sleep(delay)
                delay = min(delay * 2, self.backoff_max_s)
        self.counter.labels(channel.name, "gave_up").inc()
        return False

    async def drain(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the queues to empty (on stop)."""
        waits = [asyncio.ensure_future(q.join()) for q in self._queues.values()]
        if waits:
            await asyncio.wait(waits, timeout=timeout_s)
        for w in waits:
            w.cancel()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

"""The channel seam: a one-method protocol, the notification it carries, and an in-memory double.

A channel sends one :class:`Notification` or raises :class:`ChannelError`; retries, timeouts
and recording are the dispatcher's (:mod:`wasmwatch.alerts.delivery`), not the channel's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from wasmwatch.alerts.state import Alert

__all__ = ["Channel", "ChannelError", "MemoryChannel", "Notification", "iso"]


class ChannelError(Exception):
    """A send failed; the message says how (status, refusal, network error)."""


@dataclass(frozen=True)
class Notification:
    #: "firing", "repeat", "resolved" or "test"
    kind: str
    alert: Alert
    at_ms: int
    service: str = "wasmwatch"
    external_url: str = ""

    @property
    def status(self) -> str:
        return "resolved" if self.kind == "resolved" else "firing"

    @property
    def text(self) -> str:
        """The line a person reads (Slack, email): the alert's description while it fires; on a
        resolve, that it cleared and after how long, then what it fired on (the description
        was rendered at the last breach, so alone it would read as if still breaching)."""
        a = self.alert
        if self.kind != "resolved":
            return a.description
        began = a.fired_at or a.started_at
        took = f" after {_span(a.resolved_at - began)}" if a.resolved_at and began else ""
        return f"cleared{took}; it fired on: {a.description}"


def _span(ms: int) -> str:
    seconds = max(ms, 0) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {seconds}s" if minutes else f"{seconds}s"


def iso(ms: int | None) -> str:
    """RFC 3339 in UTC; Alertmanager's zero time for None."""
    if ms is None:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


class Channel(Protocol):
    name: str

    async def send(self, notification: Notification) -> None:
        """Deliver, or raise :class:`ChannelError`."""
        ...


@dataclass
class MemoryChannel:
    """Keeps what it was sent; can be told to fail or hang; for tests."""

    name: str = "memory"
    fail: int = 0  # fail this many sends first
    hang: bool = False
    sent: list[Notification] = field(default_factory=list)
    attempts: int = 0

    async def send(self, notification: Notification) -> None:
        self.attempts += 1
        if self.hang:
            await asyncio.Event().wait()
        if self.fail > 0:
            self.fail -= 1
            raise ChannelError("memory channel told to fail")
        self.sent.append(notification)

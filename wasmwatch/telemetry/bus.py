"""An in-process event bus in the spirit of Erlang's ``:telemetry``.

Code that does something worth measuring *executes* an event: a name (a tuple of strings),
measurements (numbers) and metadata (anything). Code that wants to know *attaches* a handler to
one or more event names. Handlers run synchronously, in the caller's thread, in the order they
were attached; they must be quick.

A handler that raises is detached and logged as a warning; the caller never sees the error
(telemetry never breaks its host). Executing an event nobody listens to costs one dict lookup.

``span(event, metadata)`` wraps a block: it executes ``event + ("start",)`` on entry, then
``event + ("stop",)`` with ``duration`` in seconds, or ``event + ("exception",)`` with
``kind`` and ``reason`` in the metadata before the exception propagates.

The module-level :data:`default_bus` and its bound methods (:func:`execute`, :func:`attach`,
:func:`detach`, :func:`span`) are what the server uses; tests make their own :class:`Bus`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import Any

__all__ = [
    "AlreadyAttachedError",
    "Attachment",
    "Bus",
    "Event",
    "Handler",
    "Measurements",
    "Metadata",
    "Span",
    "attach",
    "default_bus",
    "detach",
    "execute",
    "span",
]

Event = tuple[str, ...]
Measurements = Mapping[str, float]
Metadata = Mapping[str, object]
# (event, measurements, metadata, config) -> None, as :telemetry handlers are called.
Handler = Callable[[Event, Measurements, Metadata, Any], None]
Clock = Callable[[], float]

_EMPTY: Metadata = MappingProxyType({})
_log = logging.getLogger(__name__)


class AlreadyAttachedError(ValueError):
    """A handler with this id is already attached."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attached handler: its id, the events it listens to, the function and its config."""

    handler_id: str
    events: tuple[Event, ...]
    fn: Handler
    config: Any = None


def _as_events(events: Event | Iterable[Event]) -> tuple[Event, ...]:
    if isinstance(events, tuple) and all(isinstance(part, str) for part in events):
        return (events,)  # a single event name
    result = tuple(tuple(event) for event in events)
    if not result or not all(event and all(isinstance(p, str) for p in event) for event in result):
        raise ValueError(f"events must be non-empty tuples of strings, got {events!r}")
    return result


class Bus:
    """Handlers by event name; ``execute`` reads a copy-on-write table without locking."""

    def __init__(self, clock: Clock = time.perf_counter) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._table: dict[Event, tuple[Attachment, ...]] = {}
        self._by_id: dict[str, Attachment] = {}

    def attach(
        self,
        handler_id: str,
        events: Event | Iterable[Event],
        fn: Handler,
        config: Any = None,
    ) -> None:
        """Call ``fn(event, measurements, metadata, config)`` on each of ``events``."""
        attachment = Attachment(handler_id, _as_events(events), fn, config)
        with self._lock:
            if handler_id in self._by_id:
                raise AlreadyAttachedError(handler_id)
            self._by_id[handler_id] = attachment
            self._rebuild()

    def detach(self, handler_id: str) -> bool:
        """Remove a handler; False when no handler had that id."""
        with self._lock:
            if self._by_id.pop(handler_id, None) is None:
                return False
            self._rebuild()
            return True

    def handlers(self, prefix: Event = ()) -> list[Attachment]:
        """Attached handlers listening to at least one event that starts with ``prefix``."""
        with self._lock:
            attached = list(self._by_id.values())
        return [a for a in attached if any(event[: len(prefix)] == prefix for event in a.events)]

    def has_handlers(self, event: Event) -> bool:
        """Whether executing ``event`` would call anything."""
        return event in self._table

    def execute(
        self, event: Event, measurements: Measurements, metadata: Metadata = _EMPTY
    ) -> None:
        """Call every handler attached to ``event``; a handler that raises is detached."""
        attached = self._table.get(event)
        if attached is None:
            return
        for attachment in attached:
            try:
                attachment.fn(event, measurements, metadata, attachment.config)
            except Exception:
                self._fail(attachment, event)

    def span(self, event: Event, metadata: Metadata = _EMPTY) -> Span:
        """A context manager timing a block as ``event`` start / stop / exception."""
        return Span(self, event, metadata)

    def _fail(self, attachment: Attachment, event: Event) -> None:
        with self._lock:
            if self._by_id.get(attachment.handler_id) is attachment:
                del self._by_id[attachment.handler_id]
                self._rebuild()
        _log.warning(
            "telemetry handler %r failed on event %r and was detached",
            attachment.handler_id, event, exc_info=True,
            extra={"handler_id": attachment.handler_id, "event": ".".join(event)},
        )

    def _rebuild(self) -> None:
        table: dict[Event, list[Attachment]] = {}
        for attachment in self._by_id.values():
            for event in attachment.events:
                table.setdefault(event, []).append(attachment)
        self._table = {event: tuple(found) for event, found in table.items()}


class Span:
    """One timed block; ``set`` adds stop metadata, ``measure`` adds stop measurements."""

    __slots__ = ("_bus", "_event", "_measurements", "_metadata", "_start", "_stop_metadata")

    def __init__(self, bus: Bus, event: Event, metadata: Metadata) -> None:
        self._bus = bus
        self._event = event
        self._metadata = metadata
        self._stop_metadata: dict[str, object] = {}
        self._measurements: dict[str, float] = {}
        self._start = 0.0

    def set(self, **metadata: object) -> None:
        """Add metadata to the stop (or exception) event, e.g. ``status``."""
        self._stop_metadata.update(metadata)

    def measure(self, **measurements: float) -> None:
        """Add measurements to the stop event, e.g. ``items``."""
        self._measurements.update(measurements)

    def __enter__(self) -> Span:
        self._start = start = self._bus.clock()
        event = (*self._event, "start")
        if self._bus.has_handlers(event):
            self._bus.execute(event, {"monotonic_time": start}, self._metadata)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        end = self._bus.clock()
        suffix = "stop" if exc is None else "exception"
        event = (*self._event, suffix)
        if not self._bus.has_handlers(event):
            return
        measurements = {"duration": end - self._start, "monotonic_time": end}
        metadata = {**self._metadata, **self._stop_metadata}
        if exc is None:
            measurements.update(self._measurements)
        else:
            metadata.update(kind=type(exc).__name__, reason=str(exc), exception=exc)
        self._bus.execute(event, measurements, metadata)


default_bus = Bus()
execute = default_bus.execute
attach = default_bus.attach
detach = default_bus.detach
span = default_bus.span

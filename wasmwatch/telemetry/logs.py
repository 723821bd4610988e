"""Logging: JSON lines to stderr, per-module levels at run time, truncation, overload guard.

Each record is one JSON object per line: ``ts`` (UTC, ISO 8601, milliseconds), ``level``,
``logger``, ``msg``, any ``extra=`` fields, and ``exc`` when there is an exception. Messages
(and exception text) longer than 8192 characters are cut there and ``truncated`` holds the
original length.

Overload protection follows Elixir's Logger: at most 500 records per second (by the time each
record was created) are written; the rest are dropped and counted. When the next second starts
(or on ``flush()``) one warning line says how many were dropped, and
:data:`~wasmwatch.telemetry.events.LOG_DROPPED` is executed with that ``count``.

The production default level is WARNING; :func:`set_levels` changes the level of any logger
while the server runs.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

import msgspec

from wasmwatch.telemetry.bus import Bus, default_bus
from wasmwatch.telemetry.events import LOG_DROPPED

__all__ = [
    "JsonFormatter",
    "LogHandler",
    "RateLimiter",
    "configure",
    "get_levels",
    "set_levels",
]

MAX_LENGTH = 8192
MAX_PER_SECOND = 500
LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET")
_LEVELS = LEVELS
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_encoder = msgspec.json.Encoder(enc_hook=repr)


def _timestamp(created: float) -> str:
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record; message and exception text cut at ``max_length``."""

    def __init__(self, max_length: int = MAX_LENGTH) -> None:
        super().__init__()
        self.max_length = max_length

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line (without the newline)."""
        msg = record.getMessage()
        out: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": msg[: self.max_length],
        }
        if len(msg) > self.max_length:
            out["truncated"] = len(msg)
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in out:
                out[key] = value[: self.max_length] if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text[: self.max_length]
        if record.stack_info:
            out["stack"] = record.stack_info[: self.max_length]
        return _encoder.encode(out).decode()


class RateLimiter:
    """Admits at most ``per_second`` calls per whole second of ``now``; counts the rest."""

    def __init__(self, per_second: int = MAX_PER_SECOND) -> None:
        self.per_second = per_second
        self._second: int | None = None
        self._admitted = 0
        self._dropped = 0
        self.dropped_total = 0

    def admit(self, now: float) -> tuple[bool, int]:
        """Whether to admit a call at ``now``, and the drops to report (when a second ends)."""
        second = int(now // 1)
        report = 0
        if second != self._second:
            report = self.drain()
            self._second, self._admitted = second, 0
        if self._admitted < self.per_second:
            self._admitted += 1
            return True, report
        self._dropped += 1
        self.dropped_total += 1
        return False, report

    def drain(self) -> int:
        """Drops not reported yet, and forget them."""
        dropped, self._dropped = self._dropped, 0
        return dropped


class LogHandler(logging.Handler):
    """Writes JSON lines to a stream, at most ``max_per_second`` records a second."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        max_per_second: int = MAX_PER_SECOND,
        max_length: int = MAX_LENGTH,
        bus: Bus = default_bus,
    ) -> None:
        super().__init__()
        self.stream = stream if stream is not None else sys.stderr
        self.limiter = RateLimiter(max_per_second)
        self.setFormatter(JsonFormatter(max_length))
        self._bus = bus

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record unless over the rate limit; report earlier drops first."""
        try:
            admitted, dropped = self.limiter.admit(record.created)
            if dropped:
                self._write_summary(dropped, record.created)
            if admitted:
                self.stream.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Report pending drops, then flush the stream."""
        self.acquire()
        try:
            dropped = self.limiter.drain()
            if dropped:
                self._write_summary(dropped, time.time())
            if hasattr(self.stream, "flush"):
                self.stream.flush()
        finally:
            self.release()

    def _write_summary(self, dropped: int, created: float) -> None:
        summary = logging.makeLogRecord({
            "name": __name__, "levelno": logging.WARNING, "levelname": "WARNING",
            "msg": "dropped %d log records over the limit of %d per second",
            "args": (dropped, self.limiter.per_second), "created": created, "dropped": dropped,
        })
        self.stream.write(self.format(summary) + "\n")
        self._bus.execute(LOG_DROPPED, {"count": float(dropped)}, {})


def _level(name: str) -> int:
    upper = name.upper()
    if upper not in _LEVELS:
        raise ValueError(f"unknown log level {name!r}; use one of {', '.join(_LEVELS)}")
    return logging.getLevelNamesMapping()[upper]


def set_levels(levels: Mapping[str, str]) -> None:
    """Set logger levels by name (``root`` or ``""`` for the root); all or nothing."""
    _apply({name: _level(level) for name, level in levels.items()})


def _apply(levels: Mapping[str, int]) -> None:
    for name, level in levels.items():
        logging.getLogger(None if name in ("", "root") else name).setLevel(level)


def get_levels() -> dict[str, str]:
    """The root level and every logger with a level of its own."""
    levels = {"root": logging.getLevelName(logging.getLogger().level)}
    for name, logger in sorted(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            levels[name] = logging.getLevelName(logger.level)
    return levels


def configure(
    level: str = "WARNING",
    module_levels: Mapping[str, str] | None = None,
    *,
    stream: TextIO | None = None,
    max_per_second: int = MAX_PER_SECOND,
    max_length: int = MAX_LENGTH,
    bus: Bus = default_bus,
) -> LogHandler:
    """Install one :class:`LogHandler` on the root logger (replacing ours) and set levels."""
    levels = {"root": level, **(module_levels or {})}
    resolved = {name: _level(value) for name, value in levels.items()}  # all valid, or raise
    root = logging.getLogger()
    for existing in [h for h in root.handlers if isinstance(h, LogHandler)]:
        root.removeHandler(existing)
        existing.flush()
    handler = LogHandler(stream, max_per_second=max_per_second, max_length=max_length, bus=bus)
    root.addHandler(handler)
    _apply(resolved)
    return handler

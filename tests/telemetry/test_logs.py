"""Tests for wasmwatch.telemetry.logs."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from wasmwatch.telemetry import events
from wasmwatch.telemetry.bus import Bus, Event, Measurements, Metadata
from wasmwatch.telemetry.logs import (
    JsonFormatter,
    LogHandler,
    RateLimiter,
    configure,
    get_levels,
    set_levels,
)


def record(msg: str = "hello", *, created: float = 1000.0, **extra: Any) -> logging.LogRecord:
    """A WARNING record from logger ``wasmwatch.test`` created at ``created``."""
    return logging.makeLogRecord({
        "name": "wasmwatch.test", "levelno": logging.WARNING, "levelname": "WARNING",
        "msg": msg, "created": created, **extra,
    })


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """The JSON lines written to ``stream``."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put the root logger and test loggers back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in ("wasmwatch.ingest", "wasmwatch.store"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_json_line_has_standard_and_extra_fields() -> None:
    """A line holds ts, level, logger, msg and extra fields."""
    line = json.loads(JsonFormatter().format(record("saved %d", args=(3,), project="p")))
    assert line == {
        "ts": "1970-01-01T00:16:40.000Z", "level": "WARNING", "logger": "wasmwatch.test",
        "msg": "saved 3", "project": "p",
    }


def test_long_messages_are_truncated_at_8192() -> None:
    """Messages over 8192 characters are cut and the original length noted."""
    line = json.loads(JsonFormatter().format(record("x" * 10_000)))
    assert len(line["msg"]) == 8192
    assert line["truncated"] == 10_000


def test_exceptions_are_included() -> None:
    """An exception's traceback is in exc."""
    try:
        raise ValueError("bad")
    except ValueError:
        r = record("failed", exc_info=sys.exc_info())
    line = json.loads(JsonFormatter().format(r))
    assert "ValueError: bad" in line["exc"]


def test_unserialisable_extras_are_repr() -> None:
    """Extra values JSON cannot hold are written as their repr."""
    line = json.loads(JsonFormatter().format(record(thing=object)))
    assert line["thing"] == "<class 'object'>"


def test_rate_limiter_admits_per_second_and_reports_next_second() -> None:
    """Past the limit calls are dropped; the next second reports how many."""
    limiter = RateLimiter(per_second=3)
    results = [limiter.admit(5.0 + i / 10) for i in range(5)]
    assert results == [(True, 0)] * 3 + [(False, 0)] * 2
    assert limiter.admit(6.0) == (True, 2)
    assert limiter.admit(6.5) == (True, 0)
    assert limiter.dropped_total == 2


def test_handler_drops_above_500_per_second_and_says_so(bus: Bus) -> None:
    """600 records in one second write 500; the next second starts with a summary line."""
    stream = io.StringIO()
    dropped: list[float] = []

    def on_dropped(event: Event, m: Measurements, meta: Metadata, config: Any) -> None:
        dropped.append(m["count"])

    bus.attach("test", [events.LOG_DROPPED], on_dropped)
    handler = LogHandler(stream, bus=bus)
    for i in range(600):
        handler.handle(record(f"m{i}", created=1000.0 + i / 1000))
    assert len(lines(stream)) == 500
    handler.handle(record("later", created=1001.2))
    summary, later = lines(stream)[500:]
    assert summary["dropped"] == 100 and "dropped 100 log records" in summary["msg"]
    assert summary["level"] == "WARNING"
    assert later["msg"] == "later"
    assert dropped == [100.0]


def test_flush_reports_pending_drops() -> None:
    """flush() writes the summary without waiting for the next second."""
    stream = io.StringIO()
    handler = LogHandler(stream, max_per_second=2, bus=Bus())
    for _ in range(5):
        handler.handle(record(created=7.0))
    handler.flush()
    assert lines(stream)[-1]["dropped"] == 3
    handler.flush()
    assert len(lines(stream)) == 3


def test_set_and_get_levels_per_module() -> None:
    """Levels are set per logger at run time and read back."""
    set_levels({"wasmwatch.ingest": "debug", "wasmwatch.store": "ERROR"})
    levels = get_levels()
    assert levels["wasmwatch.ingest"] == "DEBUG"
    assert levels["wasmwatch.store"] == "ERROR"
    assert logging.getLogger("wasmwatch.ingest.http").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("wasmwatch.store.writer").isEnabledFor(logging.WARNING)


def test_set_levels_is_all_or_nothing() -> None:
    """An unknown level name raises and changes nothing."""
    with pytest.raises(ValueError, match="unknown log level"):
        set_levels({"wasmwatch.ingest": "DEBUG", "wasmwatch.store": "LOUD"})
    assert "wasmwatch.ingest" not in get_levels()


def test_configure_installs_one_json_handler_at_warning() -> None:
    """configure() defaults to WARNING and replaces its earlier handler."""
    first = configure(stream=io.StringIO(), bus=Bus())
    stream = io.StringIO()
    second = configure("WARNING", {"wasmwatch.ingest": "DEBUG"}, stream=stream, bus=Bus())
    root = logging.getLogger()
    assert first not in root.handlers and second in root.handlers
    assert get_levels()["root"] == "WARNING"
    logging.getLogger("wasmwatch.other").info("hidden")
    logging.getLogger("wasmwatch.ingest").debug("shown", extra={"n": 1})
    assert [(line["msg"], line["n"]) for line in lines(stream)] == [("shown", 1)]

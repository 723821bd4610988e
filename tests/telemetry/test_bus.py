"""Tests for wasmwatch.telemetry.bus."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from wasmwatch.telemetry import bus as bus_module
from wasmwatch.telemetry.bus import AlreadyAttachedError, Bus, Event, Measurements, Metadata

EV: Event = ("app", "thing", "done")


class Recorder:
    """A handler that records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[Event, dict[str, float], dict[str, object], Any]] = []

    def __call__(self, event: Event, m: Measurements, meta: Metadata, config: Any) -> None:
        self.calls.append((event, dict(m), dict(meta), config))


class FakeClock:
    """A clock that returns the times it is given, in order."""

    def __init__(self, *times: float) -> None:
        self.times = list(times)

    def __call__(self) -> float:
        return self.times.pop(0)


def boom(event: Event, m: Measurements, meta: Metadata, config: Any) -> None:
    """A handler that always fails."""
    raise RuntimeError("handler bug")


def test_execute_calls_handler_with_event_measurements_metadata_config(bus: Bus) -> None:
    """An attached handler gets the event, measurements, metadata and its config."""
    rec = Recorder()
    bus.attach("h", [EV], rec, config={"k": 1})
    bus.execute(EV, {"count": 2.0}, {"project": "p"})
    assert rec.calls == [(EV, {"count": 2.0}, {"project": "p"}, {"k": 1})]


def test_execute_without_handlers_is_a_no_op(bus: Bus) -> None:
    """Executing an event nobody listens to does nothing and returns None."""
    bus.attach("h", [("other",)], Recorder())
    bus.execute(EV, {"count": 1.0})
    assert not bus.has_handlers(EV)


def test_handler_only_gets_its_events(bus: Bus) -> None:
    """A handler is not called for events it did not attach to."""
    rec = Recorder()
    bus.attach("h", [EV], rec)
    bus.execute((*EV, "more"), {})
    assert rec.calls == []


def test_attach_accepts_a_single_event(bus: Bus) -> None:
    """A bare event tuple is one event, not a list of events."""
    rec = Recorder()
    bus.attach("h", EV, rec)
    bus.execute(EV, {})
    assert len(rec.calls) == 1


def test_attach_one_handler_to_several_events(bus: Bus) -> None:
    """One handler can listen to several events."""
    rec = Recorder()
    bus.attach("h", [EV, ("b",)], rec)
    bus.execute(EV, {})
    bus.execute(("b",), {})
    assert [c[0] for c in rec.calls] == [EV, ("b",)]


def test_attach_rejects_a_duplicate_id(bus: Bus) -> None:
    """Attaching a second handler under the same id raises."""
    bus.attach("h", [EV], Recorder())
    with pytest.raises(AlreadyAttachedError):
        bus.attach("h", [EV], Recorder())


@pytest.mark.parametrize("events", [[], [()], [("a", 1)]])
def test_attach_rejects_malformed_events(bus: Bus, events: Any) -> None:
    """Events must be non-empty tuples of strings."""
    with pytest.raises(ValueError):
        bus.attach("h", events, Recorder())


def test_detach_stops_calls(bus: Bus) -> None:
    """A detached handler is not called; detaching twice reports False."""
    rec = Recorder()
    bus.attach("h", [EV], rec)
    assert bus.detach("h") is True
    bus.execute(EV, {})
    assert rec.calls == []
    assert bus.detach("h") is False


def test_handlers_run_in_attach_order(bus: Bus) -> None:
    """Handlers are called in the order they were attached."""
    order: list[str] = []
    bus.attach("a", [EV], lambda *_: order.append("a"))
    bus.attach("b", [EV], lambda *_: order.append("b"))
    bus.execute(EV, {})
    assert order == ["a", "b"]


def test_failing_handler_is_detached_and_caller_unharmed(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    """A raising handler is detached and logged; the caller and other handlers go on."""
    rec = Recorder()
    bus.attach("bad", [EV], boom)
    bus.attach("good", [EV], rec)
    with caplog.at_level(logging.WARNING, logger="wasmwatch.telemetry.bus"):
        bus.execute(EV, {"n": 1.0})
    bus.execute(EV, {"n": 2.0})
    assert [c[1]["n"] for c in rec.calls] == [1.0, 2.0]
    assert [a.handler_id for a in bus.handlers()] == ["good"]
    assert "'bad'" in caplog.text and "detached" in caplog.text


def test_failing_handler_does_not_detach_a_newer_one_with_the_same_id(bus: Bus) -> None:
    """Only the attachment that failed is removed."""
    def replace(event: Event, m: Measurements, meta: Metadata, config: Any) -> None:
        bus.detach("h")
        bus.attach("h", [EV], Recorder())
        raise RuntimeError("after re-attach")

    bus.attach("h", [EV], replace)
    bus.execute(EV, {})
    (attachment,) = bus.handlers()
    assert attachment.fn is not replace


def test_handlers_filters_by_prefix(bus: Bus) -> None:
    """handlers(prefix) lists handlers of events under that prefix."""
    bus.attach("x", [("app", "x")], Recorder())
    bus.attach("y", [("other", "y")], Recorder())
    assert [a.handler_id for a in bus.handlers(("app",))] == ["x"]


def test_span_emits_start_and_stop_with_duration() -> None:
    """A span executes start, then stop with the duration in seconds."""
    bus = Bus(clock=FakeClock(10.0, 10.25))
    rec = Recorder()
    bus.attach("h", [(*EV, "start"), (*EV, "stop")], rec)
    with bus.span(EV, {"route": "/x"}):
        pass
    (start, _, start_meta, _), (stop, m, stop_meta, _) = rec.calls
    assert (start, stop) == ((*EV, "start"), (*EV, "stop"))
    assert m["duration"] == 0.25 and m["monotonic_time"] == 10.25
    assert start_meta == stop_meta == {"route": "/x"}


def test_span_stop_carries_set_metadata_and_measurements() -> None:
    """set() adds stop metadata and measure() adds stop measurements."""
    bus = Bus(clock=FakeClock(0.0, 1.0))
    rec = Recorder()
    bus.attach("h", [(*EV, "stop")], rec)
    with bus.span(EV, {"route": "/x"}) as s:
        s.set(status=201)
        s.measure(items=5.0)
    _, m, meta, _ = rec.calls[0]
    assert meta == {"route": "/x", "status": 201}
    assert m == {"duration": 1.0, "monotonic_time": 1.0, "items": 5.0}


def test_span_exception_emits_kind_reason_and_reraises() -> None:
    """An exception in a span emits the exception event, no stop, and propagates."""
    bus = Bus(clock=FakeClock(0.0, 0.5))
    rec = Recorder()
    bus.attach("h", [(*EV, "stop"), (*EV, "exception")], rec)
    with pytest.raises(KeyError), bus.span(EV, {"route": "/x"}):
        raise KeyError("missing")
    ((event, m, meta, _),) = rec.calls
    assert event == (*EV, "exception")
    assert m["duration"] == 0.5
    assert meta["kind"] == "KeyError" and meta["reason"] == "'missing'"
    assert meta["route"] == "/x"


def test_span_survives_a_failing_handler() -> None:
    """A handler failing on span events never breaks the timed block."""
    bus = Bus()
    bus.attach("bad", [(*EV, "start"), (*EV, "stop")], boom)
    with bus.span(EV) as s:
        s.set(status=200)
    assert bus.handlers() == []


def test_default_bus_functions_are_bound_to_default_bus() -> None:
    """The module-level functions act on default_bus."""
    rec = Recorder()
    bus_module.attach("test.default", [EV], rec)
    try:
        bus_module.execute(EV, {"n": 1.0})
        with bus_module.span(("app", "s")):
            pass
    finally:
        assert bus_module.detach("test.default")
    assert len(rec.calls) == 1
    assert bus_module.default_bus.handlers(EV) == []

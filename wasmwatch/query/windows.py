"""Window and step strings: ``"5m"``, ``"1h"``, ``"24h"``, ``"7d"`` -> seconds.

A duration is a positive whole number followed by one unit: ``s``, ``m``, ``h`` or ``d``.
Windows (how far back a query looks) run from 5 minutes to 30 days; steps (how wide one chart
bucket is) from 10 seconds to 1 day. Anything else raises :class:`WindowError`, a
``ValueError``, whose message names the problem; the web layer answers it with a 400.
"""

from __future__ import annotations

import re

from wasmwatch.query.exceptions import WindowError

__all__ = [
    "MAX_POINTS",
    "STEP_MAX_S",
    "STEP_MIN_S",
    "WINDOW_MAX_S",
    "WINDOW_MIN_S",
    "WindowError",
    "check_series",
    "default_step",
    "format_duration",
    "parse_duration",
    "parse_step",
    "parse_window",
]

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
WINDOW_MIN_S = 5 * 60
WINDOW_MAX_S = 30 * 86400
STEP_MIN_S = 10
STEP_MAX_S = 86400
MAX_POINTS = 2000  # points in one series answer; more would not help a chart

# Steps a chart can pick from, smallest first; default_step takes the first giving <= 120 points.
NICE_STEPS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)

_DURATION = re.compile(r"([0-9]{1,9})([smhd])")


def parse_duration(text: str) -> int:
    """Seconds in a duration such as ``"90s"``, ``"5m"``, ``"1h"`` or ``"7d"``."""
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise WindowError(
            f"invalid duration {text!r}: expected a whole number and a unit s, m, h or d"
            " (e.g. 5m, 1h, 24h, 7d)"
        )
    seconds = int(match.group(1)) * UNITS[match.group(2)]
    if seconds <= 0:
        raise WindowError(f"invalid duration {text!r}: must be greater than zero")
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest duration string for ``seconds`` (``3600`` -> ``"1h"``)."""
    for unit in ("d", "h", "m"):
        if seconds % UNITS[unit] == 0:
            return f"{seconds // UNITS[unit]}{unit}"
    return f"{seconds}s"


def _bounded(kind: str, text: str, low: int, high: int) -> int:
    seconds = parse_duration(text)
    if not low <= seconds <= high:
        raise WindowError(
            f"{kind} {text!r} out of range: must be between "
            f"{format_duration(low)} and {format_duration(high)}"
        )
    return seconds


def parse_window(text: str) -> int:
    """Seconds in a query window, 5m to 30d."""
    return _bounded("window", text, WINDOW_MIN_S, WINDOW_MAX_S)


def parse_step(text: str) -> int:
    """Seconds in a chart step, 10s to 1d."""
    return _bounded("step", text, STEP_MIN_S, STEP_MAX_S)


def check_series(window_s: int, step_s: int) -> None:
    """Raise :class:`WindowError` unless ``step_s`` cuts ``window_s`` into sane points."""
    if step_s <= 0 or window_s <= 0:
        raise WindowError("window and step must be greater than zero")
    if step_s > window_s:
        raise WindowError(
            f"step {format_duration(step_s)} is longer than window {format_duration(window_s)}"
        )
    if window_s // step_s > MAX_POINTS:
        raise WindowError(
            f"step {format_duration(step_s)} gives {window_s // step_s} points over window "
            f"{format_duration(window_s)}; at most {MAX_POINTS} allowed, use a longer step"
        )


def default_step(window_s: int) -> int:
    """A round step giving at most about 120 points over ``window_s``."""
    for step in NICE_STEPS:
        if window_s // step <= 120:
            return step
    return NICE_STEPS[-1]

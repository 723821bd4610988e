"""Custom time ranges: ``from`` and ``to`` in epoch milliseconds, as a zoomed chart asks.

A query normally looks back one window from now (``window=1h``). A range names both ends
instead; it must be whole numbers, ``from < to``, between :data:`RANGE_MIN_S` and 30 days long,
and may not end in the future. The web layer turns :class:`RangeError` into a 400.
"""

from __future__ import annotations

from dataclasses import dataclass

from wasmwatch.query.exceptions import RangeError
from wasmwatch.query.windows import WINDOW_MAX_S, format_duration

__all__ = ["RANGE_MIN_S", "Range", "RangeError", "parse_range"]

RANGE_MIN_S = 60
_FUTURE_SLACK_MS = 60_000  # a browser clock a little ahead of ours is not an error


@dataclass(frozen=True)
class Range:
    """``[to_ms - window_s * 1000, to_ms]``: the shape every query function takes."""

    window_s: int
    to_ms: int

    @property
    def from_ms(self) -> int:
        return self.to_ms - self.window_s * 1000

    def previous(self) -> Range:
        """The range of the same length just before this one."""
        return Range(self.window_s, self.from_ms)


def _epoch_ms(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise RangeError(f"{name}: expected epoch milliseconds (an integer), got {text!r}") from exc
    if value < 0:
        raise RangeError(f"{name}: must not be negative, got {value}")
    return value


def parse_range(from_text: str | None, to_text: str | None, now_ms: int) -> Range:
    """The range ``from``..``to`` (epoch ms strings), checked against ``now_ms``."""
    if not from_text or not to_text:
        raise RangeError("from and to go together: give both (epoch milliseconds) or neither")
    start, end = _epoch_ms("from", from_text), _epoch_ms("to", to_text)
    if end > now_ms + _FUTURE_SLACK_MS:
        raise RangeError(f"to: {end} is in the future (now is {now_ms})")
    end = min(end, now_ms)
    if start >= end:
        raise RangeError(f"from ({start}) must be before to ({end})")
    window_s = -(-(end - start) // 1000)  # whole seconds, rounded up
    if window_s < RANGE_MIN_S or window_s > WINDOW_MAX_S:
        raise RangeError(
            f"range of {window_s}s out of bounds: must be between "
            f"{format_duration(RANGE_MIN_S)} and {format_duration(WINDOW_MAX_S)}"
        )
    return Range(window_s, end)

"""Custom from/to ranges: checked once, with messages naming the problem."""

from __future__ import annotations

import pytest

from wasmwatch.query.exceptions import RangeError
from wasmwatch.query.ranges import parse_range

NOW = 1_764_000_000_000


def test_range_gives_window_and_end() -> None:
    """A 10-minute range is a 600 s window ending at `to`; previous() is the one before."""
    r = parse_range(str(NOW - 900_000), str(NOW - 300_000), NOW)
    assert (r.window_s, r.to_ms, r.from_ms) == (600, NOW - 300_000, NOW - 900_000)
    assert r.previous().to_ms == NOW - 900_000


@pytest.mark.parametrize(("start", "end", "message"), [
    ("abc", str(NOW), "from: expected epoch milliseconds"),
    (str(NOW), str(NOW - 1000), "must be before"),
    (str(NOW - 10_000), str(NOW), "out of bounds"),
    (str(NOW - 60_000), str(NOW + 3_600_000), "in the future"),
    ("", str(NOW), "go together"),
])
def test_bad_ranges(start: str, end: str, message: str) -> None:
    """Non-numbers, reversed, too short, future and half ranges are refused."""
    with pytest.raises(RangeError, match=message):
        parse_range(start, end, NOW)

"""Window and step parsing."""

from __future__ import annotations

import pytest

from wasmwatch.query.windows import (
    MAX_POINTS,
    WindowError,
    check_series,
    default_step,
    parse_duration,
    parse_step,
    parse_window,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("5m", 300), ("1h", 3600), ("24h", 86_400), ("7d", 604_800), ("30d", 2_592_000),
    (" 90m ", 5400),
])
def test_windows_parse_to_seconds(text: str, seconds: int) -> None:
    """Windows from 5m to 30d parse to seconds."""
    assert parse_window(text) == seconds


@pytest.mark.parametrize(("text", "seconds"), [("10s", 10), ("5m", 300), ("1d", 86_400)])
def test_steps_parse_to_seconds(text: str, seconds: int) -> None:
    """Steps from 10s to 1d parse to seconds."""
    assert parse_step(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "1.5h", "-5m", "5", "5 m", "5M", "h", "0m", "5w"])
def test_malformed_durations_are_rejected(text: str) -> None:
    """Malformed durations raise WindowError saying what is expected."""
    with pytest.raises(WindowError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["1m", "4m", "31d", "90d", "299s"])
def test_windows_out_of_range_are_rejected(text: str) -> None:
    """Windows shorter than 5m or longer than 30d raise WindowError naming the range."""
    with pytest.raises(WindowError, match=r"between 5m and 30d"):
        parse_window(text)


@pytest.mark.parametrize("text", ["5s", "9s", "2d"])
def test_steps_out_of_range_are_rejected(text: str) -> None:
    """Steps shorter than 10s or longer than 1d raise WindowError naming the range."""
    with pytest.raises(WindowError, match=r"between 10s and 1d"):
        parse_step(text)


def test_window_error_is_a_value_error() -> None:
    """WindowError is a ValueError, so generic handlers map it to a 400."""
    assert issubclass(WindowError, ValueError)


def test_check_series_rejects_step_longer_than_window() -> None:
    """A step longer than the window is rejected."""
    with pytest.raises(WindowError, match="longer than window"):
        check_series(3600, 7200)


def test_check_series_rejects_too_many_points() -> None:
    """A step cutting the window into more than MAX_POINTS points is rejected."""
    with pytest.raises(WindowError, match="points"):
        check_series(30 * 86_400, 10)
    check_series(MAX_POINTS * 10, 10)


@pytest.mark.parametrize("window", [300, 3600, 86_400, 7 * 86_400, 30 * 86_400])
def test_default_step_gives_at_most_120_points(window: int) -> None:
    """The default step is round and gives a chart-sized number of points."""
    step = default_step(window)
    assert window // step <= 120
    check_series(window, step)

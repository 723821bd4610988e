"""Token-bucket tables: bounded, all-or-none across limits, and off at rate 0."""

from __future__ import annotations

from wasmwatch.ingest.ratelimit import RateLimiter, take_all


def test_table_is_bounded_least_recent_dropped() -> None:
    """With max_keys the table never grows past it; the least recently used bucket goes first."""
    limiter = RateLimiter(rate=1, max_keys=100)
    for n in range(10_000):
        limiter.take(f"10.0.{n // 256}.{n % 256}", 1, now_s=0)
    assert len(limiter) == 100
    limiter.take("keep", 2, now_s=0)
    for n in range(99):
        limiter.take(f"new{n}", 1, now_s=0)
        limiter.take("keep", 0, now_s=0)  # used again: stays
    assert limiter.take("keep", 1, now_s=0) > 0  # its spent bucket was kept, not reset


def test_take_all_takes_from_none_when_one_is_spent() -> None:
    """When one limit says wait, no limit is charged; the answer names the one that refused."""
    wide, narrow = RateLimiter(rate=100), RateLimiter(rate=1)
    assert take_all([(wide, "a", 2), (narrow, "b", 2)], now_s=0) == (0.0, -1)
    wait, which = take_all([(wide, "a", 5), (narrow, "b", 1)], now_s=0)
    assert which == 1 and wait == 1.0
    assert wide.take("a", 198, now_s=0) == 0.0  # 200 - 2: the refused 5 were not taken


def test_rate_zero_turns_a_limiter_off() -> None:
    """A limiter with rate 0 admits everything and keeps no buckets."""
    off = RateLimiter(rate=0, max_keys=10)
    assert all(off.take(str(n), 10**9, now_s=0) == 0.0 for n in range(100))
    assert len(off) == 0

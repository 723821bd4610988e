"""Tests for wasmwatch.guard: failed token attempts per address."""

from __future__ import annotations

from wasmwatch.guard import FailureGuard


def test_blocks_after_max_failures_until_the_window_ends() -> None:
    """N failures in the window block the address for the rest of the window, then reset."""
    guard = FailureGuard(max_failures=3, window_s=60)
    for t in (0.0, 1.0, 2.0):
        assert guard.blocked("a", t) == 0.0
        guard.failed("a", t, f"guess{t}")
    assert guard.blocked("a", 10.0) == 50.0
    assert guard.blocked("b", 10.0) == 0.0
    assert guard.blocked("a", 60.0) == 0.0
    guard.failed("a", 61.0)
    assert guard.blocked("a", 61.0) == 0.0  # a fresh window with one failure


def test_success_clears_and_table_is_bounded() -> None:
    """A success forgets the address's failures; at most max_addresses are kept."""
    guard = FailureGuard(max_failures=2, window_s=60, max_addresses=50)
    guard.failed("a", 0)
    guard.succeeded("a")
    guard.failed("a", 1)
    assert guard.blocked("a", 1) == 0.0
    for n in range(1000):
        guard.failed(f"addr{n}", 2)
    assert len(guard) == 50


def test_one_wrong_token_repeated_is_one_failure() -> None:
    """The same stale token sent on many parallel requests counts once, so it never locks out."""
    guard = FailureGuard(max_failures=3, window_s=60)
    for _ in range(20):
        guard.failed("a", 0.0, "stale")
    assert guard.blocked("a", 1.0) == 0.0
    guard.failed("a", 1.0, "second")
    guard.failed("a", 1.0, "third")
    assert guard.blocked("a", 1.0) == 59.0

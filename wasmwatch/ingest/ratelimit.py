"""Token buckets per project, per ingest key and per client address; time is an argument.

A :class:`RateLimiter` keeps one bucket per key. With ``max_keys`` it keeps at most that many,
dropping the least recently used (a dropped bucket comes back full, which only ever lets a
client through, never blocks one): the per-address table stays bounded however many
addresses a flood comes from. A rate of 0 or less turns the limiter off.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence


class TokenBucket:
    """``rate`` tokens per second, up to ``burst``; ``take`` answers how long to wait, 0 if none."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, now_s: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now_s

    def wait(self, n: int, now_s: float) -> float:
        """Seconds until ``n`` tokens are there (0.0: they are), taking none."""
        elapsed = now_s - self.stamp
        if elapsed > 0:
            self.stamp = now_s
            tokens = self.tokens + elapsed * self.rate
            self.tokens = tokens if tokens < self.burst else self.burst
        if n <= self.tokens:
            return 0.0
        return (n - self.tokens) / self.rate if self.rate > 0 else 60.0

    def take(self, n: int, now_s: float) -> float:
        wait = self.wait(n, now_s)
        if wait == 0.0:
            self.tokens -= n
        return wait


class RateLimiter:
    def __init__(self, rate: float, burst_factor: float = 2.0, max_keys: int | None = None) -> None:
        self.rate = rate
        self.burst = max(rate * burst_factor, 1.0)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def _bucket(self, key: str, now_s: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now_s)
            if self.max_keys is not None and len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        elif self.max_keys is not None:
            self._buckets.move_to_end(key)
        return bucket

    def wait(self, key: str, n: int, now_s: float) -> float:
        """Seconds to wait before ``n`` items of ``key`` fit, taking nothing; 0.0 if they fit."""
        return self._bucket(key, now_s).wait(n, now_s) if self.enabled else 0.0

    def take(self, key: str, n: int, now_s: float) -> float:
        """Seconds to wait before ``n`` items of ``key`` fit; 0.0 means they were taken."""
        return self._bucket(key, now_s).take(n, now_s) if self.enabled else 0.0


def take_all(charges: Sequence[tuple[RateLimiter, str, int]], now_s: float) -> tuple[float, int]:
    """Take from every limiter, or from none: ``(0.0, -1)`` when all had room, else the longest
    wait and the index of the charge that asked for it."""
    worst, which = 0.0, -1
    taken: list[tuple[TokenBucket, int]] = []
    for i, (limiter, key, n) in enumerate(charges):
        if limiter.rate <= 0:
            continue
        bucket = limiter._bucket(key, now_s)
        wait = bucket.wait(n, now_s)
        if wait > worst:
            worst, which = wait, i
        taken.append((bucket, n))
    if which < 0:
        for bucket, n in taken:
            bucket.tokens -= n
    return worst, which

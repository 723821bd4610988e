"""Per-project token buckets; time is an argument."""

from __future__ import annotations


class TokenBucket:
    """``rate`` tokens per second, up to ``burst``; ``take`` answers how long to wait, 0 if none."""

    def __init__(self, rate: float, burst: float, now_s: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now_s

    def take(self, n: int, now_s: float) -> float:
        elapsed = max(0.0, now_s - self.stamp)
        self.stamp = now_s
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        if n <= self.tokens:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.rate if self.rate > 0 else 60.0


class RateLimiter:
    def __init__(self, rate: float, burst_factor: float = 2.0) -> None:
        self.rate = rate
        self.burst = max(rate * burst_factor, 1.0)
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, n: int, now_s: float) -> float:
        """Seconds to wait before ``n`` items of ``key`` fit; 0.0 means they were taken."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now_s)
        return bucket.take(n, now_s)

"""A sliding window of one series, kept incrementally in time buckets.

Samples land in buckets ``width_ms`` wide (by item time). Running totals of the recent window
(count, sum and, where a percentile is asked for, a log histogram, see
:mod:`wasmwatch.query.sketch`) are updated on every sample and when a bucket leaves the window,
so a read costs the same whatever was stored: a count and a sum, a max over at most a few
hundred buckets, or a sort of a few hundred histogram bins. A regression rule also keeps a
baseline: the buckets of ``baseline_ms`` just before the recent window, with their own totals.

The window's edges move a bucket at a time, so a window is exact to within one bucket
(``width_ms``, at most a sixtieth of the window).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wasmwatch.query.sketch import bin_of, quantiles

__all__ = ["Totals", "Window", "bucket_width"]


def bucket_width(window_ms: int) -> int:
    """Bucket width for a window: a sixtieth of it, at least one second."""
    return max(1000, window_ms // 60)


@dataclass
class Totals:
    """Count, sum and histogram of some samples; can add and take away."""

    n: int = 0
    total: float = 0.0
    bins: dict[int, int] = field(default_factory=dict)

    def add(self, other: Totals) -> None:
        self.n += other.n
        self.total += other.total
        for b, c in other.bins.items():
            self.bins[b] = self.bins.get(b, 0) + c

    def take(self, other: Totals) -> None:
        self.n -= other.n
        self.total -= other.total
        for b, c in other.bins.items():
            left = self.bins.get(b, 0) - c
            if left > 0:
                self.bins[b] = left
            else:
                self.bins.pop(b, None)
        if self.n <= 0:
            self.n, self.total = 0, 0.0

    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    def quantile(self, q: float) -> float | None:
        keys = sorted(self.bins)
        return quantiles(keys, [self.bins[k] for k in keys], [q])[0]


@dataclass
class Bucket(Totals):
    high: float = float("-inf")
    low: float = float("inf")
    last: float | None = None
    last_ts: int = -1


class Window:
    """Buckets of one series over ``window_ms`` (plus ``baseline_ms`` before it, if any)."""

    __slots__ = ("_boundary", "_first", "baseline", "baseline_ms", "buckets", "hist", "recent",
                 "width", "window_ms")

    def __init__(self, window_ms: int, *, baseline_ms: int = 0, hist: bool = False) -> None:
        self.window_ms = window_ms
        self.baseline_ms = baseline_ms
        self.width = bucket_width(window_ms)
        self.hist = hist
        self.buckets: dict[int, Bucket] = {}
        self.recent = Totals()
        self.baseline = Totals()
        self._first = -1  # index of the oldest bucket kept
        self._boundary = -1  # index of the oldest bucket in the recent window

    def _edges(self, now_ms: int) -> tuple[int, int]:
        boundary = (now_ms - self.window_ms) // self.width + 1
        first = (now_ms - self.window_ms - self.baseline_ms) // self.width + 1
        return first, boundary

    def add(self, ts: int, value: float, now_ms: int, n: int = 1) -> None:
        """One sample (or ``n`` equal ones); samples older than the kept range are ignored."""
        if self._first < 0:
            self._first, self._boundary = self._edges(now_ms)
        idx = min(ts, now_ms) // self.width
        if idx < self._first:
            return
        bucket = self.buckets.get(idx)
        if bucket is None:
            bucket = self.buckets[idx] = Bucket()
        self._put(bucket, idx, ts, value, n)

    def _put(self, bucket: Bucket, idx: int, ts: int, value: float, n: int) -> None:
        bucket.n += n
        bucket.total += value * n
        if value > bucket.high:
            bucket.high = value
        if value < bucket.low:
            bucket.low = value
        if ts >= bucket.last_ts:
            bucket.last, bucket.last_ts = value, ts
        target = self.recent if idx >= self._boundary else self.baseline
        target.n += n
        target.total += value * n
        if self.hist:
            b = bin_of(value)
            bucket.bins[b] = bucket.bins.get(b, 0) + n
            target.bins[b] = target.bins.get(b, 0) + n

    def merge(self, idx: int, other: Bucket, now_ms: int) -> None:
        """Add a bucket read from the store (a restart's backfill)."""
        if self._first < 0:
            self._first, self._boundary = self._edges(now_ms)
        if idx < self._first:
            return
        bucket = self.buckets.setdefault(idx, Bucket())
        bucket.add(other)
        bucket.high = max(bucket.high, other.high)
        bucket.low = min(bucket.low, other.low)
        if other.last_ts >= bucket.last_ts:
            bucket.last, bucket.last_ts = other.last, other.last_ts
        (self.recent if idx >= self._boundary else self.baseline).add(other)

    def advance(self, now_ms: int) -> None:
        """Move the edges to ``now_ms``: buckets leave the recent window, then the baseline."""
        first, boundary = self._edges(now_ms)
        if self._first < 0:
            self._first, self._boundary = first, boundary
            return
        for idx in self._crossing(self._boundary, boundary):
            bucket = self.buckets[idx]
            self.recent.take(bucket)
            if idx >= first:
                self.baseline.add(bucket)
        for idx in self._crossing(self._first, first):
            bucket = self.buckets.pop(idx)
            if idx < self._boundary:  # it had moved to the baseline
                self.baseline.take(bucket)
        self._first, self._boundary = max(self._first, first), max(self._boundary, boundary)

    def _crossing(self, old: int, new: int) -> list[int]:
        if new <= old:
            return []
        if new - old > len(self.buckets):
            return sorted(i for i in self.buckets if old <= i < new)
        return [i for i in range(old, new) if i in self.buckets]

    @property
    def empty(self) -> bool:
        return not self.buckets

    def _recent(self) -> list[Bucket]:
        return [b for i, b in self.buckets.items() if i >= self._boundary and b.n]

    def stat(self, name: str) -> float | None:
        """``count``, ``avg``, ``max``, ``min``, ``last`` or ``p50``/``p95``/``p99`` of the window."""
        if name == "count":
            return float(self.recent.n)
        if name == "avg":
            return self.recent.mean()
        if name in ("p50", "p95", "p99"):
            return self.recent.quantile(int(name[1:]) / 100)
        buckets = self._recent()
        if not buckets:
            return None
        if name == "max":
            return max(b.high for b in buckets)
        if name == "min":
            return min(b.low for b in buckets)
        return max(buckets, key=lambda b: b.last_ts).last  # last

    def baseline_stat(self, name: str) -> float | None:
        return self.baseline.quantile(0.95) if name == "p95" else self.baseline.mean()

"""Failed credential attempts per client address, so guessing the admin token is slow.

A failure is a distinct wrong credential: a page that repeats one stale token on its dozen
parallel requests has made one guess, not twelve, so it is not locked out of trying the right
one. After ``max_failures`` distinct wrong credentials within ``window_s`` an address is
refused (the caller answers 429 with ``Retry-After``) until that window has passed; nothing
sleeps, so other clients are not held up. At most ``max_addresses`` addresses are tracked
(least recently failed dropped). Time is an argument.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict


class FailureGuard:
    def __init__(self, max_failures: int, window_s: float, max_addresses: int = 65_536) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_addresses = max_addresses
        # address -> (digests of the distinct wrong credentials, first failure at)
        self._failures: OrderedDict[str, tuple[frozenset[bytes], float]] = OrderedDict()

    def blocked(self, address: str, now_s: float) -> float:
        """Seconds this address must wait before trying again; 0.0 if it may try now."""
        entry = self._failures.get(address)
        if entry is None or self.max_failures <= 0:
            return 0.0
        tried, first = entry
        if now_s - first >= self.window_s:
            del self._failures[address]
            return 0.0
        return first + self.window_s - now_s if len(tried) >= self.max_failures else 0.0

    def failed(self, address: str, now_s: float, credential: str = "") -> None:
        """Record a wrong ``credential`` from ``address`` (kept only as a short digest)."""
        tried, first = self._failures.pop(address, (frozenset(), now_s))
        if now_s - first >= self.window_s:
            tried, first = frozenset(), now_s
        digest = hashlib.blake2b(credential.encode(), digest_size=8).digest()
        if len(tried) < self.max_failures:
            tried = tried | {digest}
        self._failures[address] = (tried, first)
        if len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)

    def __len__(self) -> int:
        return len(self._failures)

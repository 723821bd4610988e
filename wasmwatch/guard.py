"""Failed credential attempts per client address, so guessing the admin token is slow.

After ``max_failures`` failures within ``window_s`` an address is refused (the caller answers
429 with ``Retry-After``) until that window has passed; nothing sleeps, so other clients are
not held up. At most ``max_addresses`` addresses are tracked (least recently failed dropped).
Time is an argument.
"""

from __future__ import annotations

from collections import OrderedDict


class FailureGuard:
    def __init__(self, max_failures: int, window_s: float, max_addresses: int = 65_536) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # count, first at

    def blocked(self, address: str, now_s: float) -> float:
        """Seconds this address must wait before trying again; 0.0 if it may try now."""
        entry = self._failures.get(address)
        if entry is None or self.max_failures <= 0:
            return 0.0
        count, first = entry
        if now_s - first >= self.window_s:
            del self._failures[address]
            return 0.0
        return first + self.window_s - now_s if count >= self.max_failures else 0.0

    def failed(self, address: str, now_s: float) -> None:
        count, first = self._failures.pop(address, (0, now_s))
        if now_s - first >= self.window_s:
            count, first = 0, now_s
        self._failures[address] = (count + 1, first)
        if len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)

    def __len__(self) -> int:
        return len(self._failures)

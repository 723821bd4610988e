"""Delivery: a bounded queue drained by one background thread, in gzip batches.

``submit`` is what the host's request path calls: one length check and a ``deque.append``; when
the queue is full the item is counted as lost (``queue_full``) and dropped, never waited for.
The thread sends a batch when ``batch_size`` items are waiting or every ``flush_interval_s``.
A 429 or 503 answer keeps the batch and waits ``Retry-After`` (seconds or an HTTP date);
a network error or another 5xx retries with exponential backoff, up to ``max_attempts`` (then
the batch is lost as ``rate_limited`` or ``network``); any
other 4xx drops the batch as ``invalid``. Items the server rejected one by one count as
``invalid`` too. The counts go to the server in the next envelope's ``lost`` and stay readable
on :attr:`Sender.lost`.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

__all__ = ["Answer", "Sender", "Transport", "UrllibTransport", "retry_after_s"]

log = logging.getLogger("wasmwatch.client")
MAX_WAIT_S = 300.0


class _Mark:
    """A flush's place in the queue: set once everything before it was handled."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class Answer(NamedTuple):
    status: int  # 0: no answer (network error)
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    def send(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST one gzip batch; never raises (a network failure is status 0)."""
        ...


class UrllibTransport:
    """The standard library's HTTP client, to ``{endpoint}/api/v1/ingest``."""

    def __init__(self, endpoint: str, timeout_s: float = 5.0) -> None:
        self.url = endpoint.rstrip("/") + "/api/v1/ingest"
        self.timeout_s = timeout_s

    def send(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        request = urllib.request.Request(self.url, data=body, headers=dict(headers), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return Answer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Answer(exc.code, dict(exc.headers), exc.read())
        except (OSError, ValueError) as exc:
            log.debug("wasmwatch: send failed: %s", exc)
            return Answer(0, {}, b"")


_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def retry_after_s(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date), bounded."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_WAIT_S)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(when - now, 0.0), MAX_WAIT_S)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class Sender:
    """A bounded queue of wire items and the thread that delivers them."""

    def __init__(self, transport: Transport, key: str, context: Mapping[str, Any], *,
                 max_queue: int = 10_000, batch_size: int = 200, flush_interval_s: float = 1.0,
                 max_attempts: int = 6, tick: Callable[[float], None] | None = None,
                 shape: Callable[[Any], str] | None = None) -> None:
        self.transport = transport
        self.headers = {"content-type": "application/json", "content-encoding": "gzip",
                        "x-wasmwatch-key": key}
        self.context = dict(context)
        self._context_json = _dumps(self.context)
        self.max_queue, self.batch_size = max_queue, min(batch_size, 1000)
        self.flush_interval_s, self.max_attempts = flush_interval_s, max_attempts
        self.tick = tick  # called on every wake-up with the time (the process poller)
        #: makes the JSON text of a wire item of a queued entry, on the sender thread (default:
        #: the entry is the item)
        self.shape: Callable[[Any], str] = shape or _dumps
        self.queue: deque[Any] = deque()
        self.lost: Counter[str] = Counter()
        self._unreported: Counter[str] = Counter()
        self._wake = threading.Event()
        self._stop = self._closed = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._retry_reason = "network"

    # -- the host's side ---------------------------------------------------------------------

    def submit(self, item: Any) -> bool:
        """Queue one entry (an item, or what ``shape`` makes one of); False (and counted as
        lost) when the queue is full."""
        queue = self.queue
        if len(queue) >= self.max_queue:  # (flush marks count too: a few more never matter)
            self._lose("queue_full", 1)
            return False
        queue.append(item)
        if len(queue) == self.batch_size:  # once per batch (the thread drains all it finds)
            self._wake.set()
        if self._thread is None:
            self.start()
        return True

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop = False
                self._thread = threading.Thread(target=self._run, name="wasmwatch-sender",
                                                daemon=True)
                self._thread.start()

    def after_fork(self) -> None:
        """In a forked child: the parent's thread is gone; start afresh on the next item."""
        self._thread, self._lock = None, threading.Lock()
        self._wake = threading.Event()

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until everything queued before this call is delivered (or dropped as lost);
        True if that happened within ``timeout_s``. Items queued meanwhile do not delay it."""
        if self._thread is None or not self._thread.is_alive():
            if not self.queue:
                return True
            if self._closed:
                return False
            self.start()
        mark = _Mark()
        self.queue.append(mark)  # the sender reaches it after all that was queued before
        self._wake.set()
        return mark.done.wait(timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued (for up to ``timeout_s``), then stop the thread; once."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self.flush(timeout_s)
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _lose(self, reason: str, n: int) -> None:
        self.lost[reason] += n
        self._unreported[reason] += n

    # -- the thread's side -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            try:
                if self.tick is not None:
                    self.tick(time.time())
                while self.queue and not self._stop:
                    batch, marks = self._take()
                    if batch:
                        self._deliver(batch)
                    for mark in marks:
                        mark.done.set()
            except Exception:  # never let the thread die silently
                log.exception("wasmwatch: sender error")

    def _take(self) -> tuple[list[str], list[_Mark]]:
        """Up to ``batch_size`` items (as JSON text), stopping after a flush mark (returned to
        be set once the batch is done)."""
        batch: list[str] = []
        marks: list[_Mark] = []
        queue, shape = self.queue, self.shape
        while queue and len(batch) < self.batch_size:
            entry = queue.popleft()
            if type(entry) is _Mark:
                marks.append(entry)
                break
            try:
                batch.append(shape(entry))
            except Exception:  # a malformed entry is one lost item, never a dead sender
                self._lose("invalid", 1)
        return batch, marks

    def _deliver(self, batch: list[str]) -> None:
        for attempt in range(self.max_attempts):
            wait = self._send_once(batch, attempt)
            if wait is None:
                return
            if self._sleep(wait):
                break
        self._lose(self._retry_reason, len(batch))

    def _send_once(self, batch: list[str], attempt: int) -> float | None:
        """Send the batch once; None when done with it, else the seconds to wait first."""
        lost, self._unreported = self._unreported, Counter()
        extra = f',"lost":{_dumps(dict(lost))}' if lost else ""
        data = (f'{{"sent_at":{time.time() * 1000.0!r},"context":{self._context_json}{extra},'
                f'"items":[{",".join(batch)}]}}').encode()
        answer = self.transport.send(gzip.compress(data, 1), self.headers)
        if answer.status == 200:
            self._count_rejected(answer.body)
            return None
        self._unreported.update(lost)  # not delivered: report these losses next time
        self._retry_reason = "rate_limited" if answer.status in (429, 503) else "network"
        if answer.status in (429, 503):
            hinted = retry_after_s(_header(answer.headers, "retry-after"), time.time())
            return hinted if hinted is not None else min(2.0**attempt, 60.0)
        if answer.status == 0 or answer.status >= 500:
            return min(2.0**attempt, 60.0)
        log.warning("wasmwatch: server refused a batch: %s %s", answer.status, answer.body[:200])
        self._lose("invalid", len(batch))
        return None

    def _count_rejected(self, body: bytes) -> None:
        try:
            rejected = json.loads(body).get("rejected") or []
        except (ValueError, AttributeError):
            return
        if rejected:
            log.warning("wasmwatch: %d items rejected, e.g. %s", len(rejected), rejected[0])
            self._lose("invalid", len(rejected))

    def _sleep(self, seconds: float) -> bool:
        """Wait (woken early only by close); True if the sender is stopping."""
        deadline = time.monotonic() + seconds
        while not self._stop and time.monotonic() < deadline:
            time.sleep(min(0.05, max(deadline - time.monotonic(), 0.0)))
        return self._stop

"""The client: turns what the middleware and hooks see into wire items, and hands them on.

Every public method is wrapped so that a failure inside wasmwatch is logged and swallowed:
the host app never sees an exception from here, and nothing here waits on the network.
"""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from json.encoder import encode_basestring as _encode_string
from random import getrandbits
from typing import Any, NamedTuple

from wasmwatch.client import _process, _statement
from wasmwatch.client._route import asgi_route
from wasmwatch.client._sender import Sender, Transport, UrllibTransport
from wasmwatch.client._trace import Span, Traced, current, new_span_id, new_trace_id

__all__ = ["Client"]

log = logging.getLogger("wasmwatch.client")
SDK = "wasmwatch.client/0.1.0"
_STATEMENTS_CACHED = 1024
_TAG_VALUE = (str, int, float, bool)


_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _string(value: str) -> str:
    """A JSON string (raises TypeError for anything else: the entry is then lost as invalid)."""
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return _encode_string(value)


class _Given(NamedTuple):
    """The ids of a request recorded through :meth:`Client.request`."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    session: str | None

    def ids(self) -> tuple[str, str, str | None, str | None]:
        return self


class Client:
    """Reports the app server's requests, spans, queries and process to a wasmwatch server.

    ``endpoint`` is the wasmwatch server's base URL, ``key`` a project's ingest key,
    ``service`` this app server's name. ``poll_interval_s`` (0 to turn off) is how often the
    process's memory, CPU, threads and GC are sampled.
    """

    def __init__(self, endpoint: str, key: str, *, service: str, release: str | None = None,
                 max_queue: int = 10_000, batch_size: int = 200, flush_interval_s: float = 1.0,
                 poll_interval_s: float = 10.0, timeout_s: float = 5.0, max_attempts: int = 6,
                 transport: Transport | None = None) -> None:
        context = {"service": service, "sdk": SDK, **({"release": release} if release else {})}
        self.service = service
        self.poll_interval_s = poll_interval_s
        self._next_poll = 0.0
        self._gc = _process.GcMeter()
        if poll_interval_s > 0:
            self._gc.install()
        self.sender = Sender(transport or UrllibTransport(endpoint, timeout_s), key, context,
                             max_queue=max_queue, batch_size=batch_size,
                             flush_interval_s=flush_interval_s, max_attempts=max_attempts,
                             tick=self._tick, shape=self._wire)
        #: wall clock minus perf_counter, in ns: entries are timed with perf_counter_ns alone
        self._offset_ns = time.time_ns() - time.perf_counter_ns()
        self._prefix = f"{getrandbits(48):012x}-"
        self._ids = itertools.count()
        self._statements: dict[str, tuple[str, str]] = {}
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)
        atexit.register(self.close, 2.0)  # deliver what is queued when the app exits

    @property
    def lost(self) -> dict[str, int]:
        """Items lost so far, by reason (``queue_full``, ``invalid``, ``network``,
        ``rate_limited``)."""
        return dict(self.sender.lost)

    def _after_fork(self) -> None:
        self._prefix = f"{getrandbits(48):012x}-"
        self.sender.after_fork()

    def _id(self) -> str:
        return f"{self._prefix}{next(self._ids)}"

    # -- recording -------------------------------------------------------------------------

    def request(self, route: str, method: str, status: int, ms: float, ts_ms: float,
                span: Traced, parent_span_id: str | None = None, session: str | None = None) -> None:
        """Record one handled HTTP request that took ``ms`` from ``ts_ms`` (for hooks of other
        frameworks; the middleware classes queue cheaper entries of their own)."""
        try:
            start = int(ts_ms * 1e6) - self._offset_ns
            given = _Given(span.trace_id, span.span_id, parent_span_id, session)
            self.sender.submit((start, start + int(ms * 1e6), status, given, method, route,
                                None, ""))
        except Exception:
            log.exception("wasmwatch: could not record a request")

    def _wire(self, entry: Any) -> str:
        """The JSON text of the wire item of a queued entry (on the sender thread): a request
        tuple, or an item dict whose parent span is still to be written out."""
        if type(entry) is not tuple:
            parent = entry.pop("_parent", None)
            if parent is not None:
                entry["trace_id"], entry["parent_span_id"] = parent.trace_id, parent.span_id
            if entry.get("type") == "server_span" and "span_id" not in entry:
                entry["span_id"] = new_span_id()
            entry["id"] = self._id()
            return _dumps(entry)
        start, end, status, span, method, route, scope, root_path = entry
        if route is None:
            route = asgi_route(scope, root_path)
            method = scope.get("method", "GET")
        if type(status) is str:  # a WSGI status line
            status = int(status[:3]) if status[:3].isdigit() else 500
        if type(status) is not int or not 100 <= status <= 599:
            status = 500
        trace_id, span_id, parent_id, session = span.ids()
        text = (f'{{"id":"{self._id()}","type":"server_request",'
                f'"ts":{(start + self._offset_ns) / 1e6!r},"route":{_string(route)},'
                f'"method":{_string(method)},"status":{status},"ms":{(end - start) / 1e6!r},'
                f'"trace_id":"{trace_id}","span_id":"{span_id}"')
        if parent_id:
            text += f',"parent_span_id":"{parent_id}"'
        if session:
            text += f',"session":{_string(session[:128])}'
        return text + "}"

    def record_span(self, name: str, kind: str, ms: float, ts_ms: float, *, ok: bool = True,
                    statement: str | None = None, tags: Mapping[str, Any] | None = None,
                    own: Traced | None = None, parent: Traced | None = None) -> None:
        """Record a span: ``own`` (trace and span id) under ``parent``, or by default a new
        span under the current request or span (if any). The ids are written out on the
        sender thread."""
        try:
            if own is None:
                parent = current.get()
            item: dict[str, Any] = {"type": "server_span", "ts": ts_ms,
                                    "name": name, "kind": kind, "ms": ms, "ok": ok}
            if own is not None:
                item["span_id"] = own.span_id
            if parent is not None:
                item["_parent"] = parent
            elif own is not None:
                item["trace_id"] = own.trace_id
            if statement is not None:
                item["statement"] = statement
            if tags:
                item["tags"] = {str(k)[:64]: v if isinstance(v, _TAG_VALUE) else str(v)
                                for k, v in list(tags.items())[:16]}
            self.sender.submit(item)
        except Exception:
            log.exception("wasmwatch: could not record a span")

    def execute(self, name: str, ms: float, **tags: Any) -> None:
        """Record a custom server event that took ``ms`` (kind ``execute``), with tags."""
        self.record_span(name, "execute", ms, time.time() * 1000.0 - ms, tags=tags)

    @contextmanager
    def span(self, name: str, **tags: Any) -> Iterator[Span]:
        """Time the block as a span (kind ``span``); spans and queries inside it nest under it.
        An exception in the block marks the span failed and propagates unchanged."""
        parent = current.get()
        mine = Span(parent.trace_id if parent else new_trace_id(), new_span_id())
        token = current.set(mine)
        ts, start, ok = time.time() * 1000.0, time.perf_counter(), True
        try:
            yield mine
        except BaseException:
            ok = False
            raise
        finally:
            current.reset(token)
            ms = (time.perf_counter() - start) * 1000.0
            self.record_span(name, "span", ms, ts, ok=ok, tags=tags, own=mine, parent=parent)

    def query(self, statement: str, ms: float, ok: bool = True) -> None:
        """Record a database query: its literals replaced by ``?``, never its parameters."""
        try:
            cached = self._statements.get(statement)
            if cached is None:
                text = _statement.normalize(statement)
                cached = (_statement.operation_name(text), text)
                if len(self._statements) >= _STATEMENTS_CACHED:
                    self._statements.clear()
                self._statements[statement] = cached
            self.record_span(cached[0], "query", ms, time.time() * 1000.0 - ms, ok=ok,
                             statement=cached[1])
        except Exception:
            log.exception("wasmwatch: could not record a query")

    # -- process poller ----------------------------------------------------------------------

    def _tick(self, now: float) -> None:
        """On every wake of the sender thread: re-read the clocks, and poll when it is time."""
        self._offset_ns = time.time_ns() - time.perf_counter_ns()
        if self.poll_interval_s <= 0 or now < self._next_poll:
            return
        self._next_poll = now + self.poll_interval_s
        item = {"type": "server_process", "ts": now * 1000.0,
                **_process.sample(self._gc)}
        self.sender.submit(item)

    # -- lifecycle ---------------------------------------------------------------------------

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until queued items are delivered; True if they were within ``timeout_s``."""
        try:
            return self.sender.flush(timeout_s)
        except Exception:
            log.exception("wasmwatch: flush failed")
            return False

    def close(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued, stop the sender thread and the GC hook."""
        try:
            self.sender.close(timeout_s)
        finally:
            self._gc.uninstall()

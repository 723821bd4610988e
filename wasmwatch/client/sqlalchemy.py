"""SQLAlchemy: time every statement an engine runs and report it as a ``query`` span.

``instrument_engine(engine, client)`` listens to the engine's ``before_cursor_execute``,
``after_cursor_execute`` and ``handle_error`` events. The statement is reported with its
literals replaced by ``?``; bound parameters are never read.
"""

from __future__ import annotations

import time
from typing import Any

from wasmwatch.client._client import Client
from wasmwatch.client._default import get_client

__all__ = ["instrument_engine"]

_STARTS = "wasmwatch_starts"


def instrument_engine(engine: Any, client: Client | None = None) -> None:
    """Report the queries of ``engine`` (an ``Engine``, or the ``Engine`` class for all)."""
    from sqlalchemy import event  # lazily: only SQLAlchemy users have SQLAlchemy

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
               many: bool) -> None:
        conn.info.setdefault(_STARTS, []).append(time.perf_counter())

    def finish(conn: Any, statement: str, ok: bool) -> None:
        starts = conn.info.get(_STARTS)
        target = client or get_client()
        if starts and target is not None:
            target.query(statement, (time.perf_counter() - starts.pop()) * 1000.0, ok)

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
              many: bool) -> None:
        finish(conn, statement, True)

    def error(context: Any) -> None:
        if context.connection is not None and context.statement:
            finish(context.connection, context.statement, False)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", error)

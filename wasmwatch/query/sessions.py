"""One session's timeline: its items in time order (loads, runtime start, operations, errors,
memory, features, syncs, engagement), where it ran (release, browser, OS, device), and the
periods it spent offline (runs of items sent offline or operations that ran offline).
"""

from __future__ import annotations

from typing import Any

from wasmwatch.query.exceptions import QueryError

__all__ = ["MAX_ITEMS", "session_timeline"]

Json = dict[str, Any]
MAX_ITEMS = 5000
_COLUMNS = ("id", "type", "ts", "name", "ms", "ok", "offline", "cached", "online", "category",
            "kind", "message", "value", "synced", "pending", "transfer_bytes", "page")


def _offline_periods(items: list[Json]) -> list[Json]:
    out: list[Json] = []
    current: Json | None = None
    for it in items:
        away = it["online"] is False or (it["type"] == "operation" and it["offline"] is True)
        if not away:
            current = None  # a period ends at the first item back online
            continue
        if current is None:
            current = {"from_ms": it["ts"], "to_ms": it["ts"], "items": 0}
            out.append(current)
        current["to_ms"], current["items"] = it["ts"], current["items"] + 1
    return out


def session_timeline(con: Any, *, project: str, session: str, limit: int = MAX_ITEMS) -> Json:
    """The session's first ``limit`` items, oldest first, with its context and offline periods."""
    if not session or len(session) > 200:
        raise QueryError("session: expected a session id of at most 200 characters")
    cols = ", ".join(_COLUMNS)
    rows = con.execute(
        f"SELECT {cols} FROM items WHERE project = ? AND session = ? ORDER BY ts, id LIMIT ?",
        [project, session, limit]).fetchall()
    items = [dict(zip(_COLUMNS, r, strict=True)) for r in rows]
    ctx = con.execute(
        "SELECT arg_min(release, ts), arg_min(browser, ts), arg_min(browser_major, ts), "
        "arg_min(os, ts), arg_min(device, ts), arg_min(connection, ts), count(*) "
        "FROM items WHERE project = ? AND session = ?", [project, session]).fetchone()
    counts: dict[str, int] = {}
    for it in items:
        counts[it["type"]] = counts.get(it["type"], 0) + 1
    return {
        "session": session,
        "release": ctx[0], "browser": ctx[1], "browser_major": ctx[2], "os": ctx[3],
        "device": ctx[4], "connection": ctx[5], "total": int(ctx[6] or 0),
        "truncated": int(ctx[6] or 0) > len(items),
        "from_ms": items[0]["ts"] if items else None,
        "to_ms": items[-1]["ts"] if items else None,
        "counts": counts,
        "offline_periods": _offline_periods(items),
        "items": items,
    }

"""Error group states, kept in the store's DuckDB file (table ``error_states``) and read back
beside the groups: ``open`` (no row), ``resolved``, ``ignored``; and ``regressed``, which is
never stored but read: a group resolved at ``changed_ms`` that has errors after it reopens as
``regressed``, with the releases it came back in (``regressed_in``) and whether one of them
was new to the group (``new_release``: the group never failed in it before it was resolved).
"""

from __future__ import annotations

from typing import Any

from wasmwatch.query.exceptions import QueryError

__all__ = ["DDL", "STATES", "attach", "set_state"]

Json = dict[str, Any]
STATES = ("open", "resolved", "ignored")
DDL = """CREATE TABLE IF NOT EXISTS error_states (
  project VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL, state VARCHAR NOT NULL,
  changed_ms BIGINT NOT NULL, PRIMARY KEY (project, fingerprint))"""

# one fingerprint at a time, so the subquery names it rather than correlating (ClickHouse
# does not run correlated IN subqueries)
_AFTER = """
SELECT fingerprint, count(*), list_sort(list_distinct(list(release))),
  list_sort(list_distinct(list(release) FILTER (WHERE release NOT IN (
    SELECT DISTINCT release FROM items p WHERE p.project = ? AND p.type = 'error'
      AND p.fingerprint = ? AND p.ts <= ? AND p.release IS NOT NULL))))
FROM items i WHERE project = ? AND type = 'error' AND fingerprint = ? AND ts > ?
GROUP BY fingerprint"""


def set_state(con: Any, *, project: str, fingerprint: str, state: str, now_ms: int) -> Json:
    """Store ``state`` for a group (``open`` deletes the row); answers the stored state."""
    if state not in STATES:
        raise QueryError(f"state: expected one of {', '.join(STATES)}, got {state!r}")
    if not fingerprint or len(fingerprint) > 200:
        raise QueryError("fingerprint: expected a non-empty string of at most 200 characters")
    con.execute(DDL)
    con.execute("DELETE FROM error_states WHERE project = ? AND fingerprint = ?",
                [project, fingerprint])
    if state != "open":
        con.execute("INSERT INTO error_states VALUES (?, ?, ?, ?)",
                    [project, fingerprint, state, now_ms])
    return {"fingerprint": fingerprint, "state": state, "changed_ms": now_ms}


def _stored(con: Any, project: str, fingerprints: list[str]) -> dict[str, tuple[str, int]]:
    con.execute(DDL)
    if not fingerprints:
        return {}
    rows = con.execute(
        "SELECT fingerprint, state, changed_ms FROM error_states "
        "WHERE project = ? AND list_contains(?, fingerprint)", [project, fingerprints]).fetchall()
    return {f: (s, t) for f, s, t in rows}


def attach(con: Any, project: str, groups: list[Json]) -> None:
    """Add ``state``, ``state_changed_ms`` and, when reopened, ``regressed_in`` to each group."""
    stored = _stored(con, project, [g["fingerprint"] for g in groups if g.get("fingerprint")])
    for g in groups:
        state, changed = stored.get(g.get("fingerprint") or "", ("open", None))
        g["state"], g["state_changed_ms"] = state, changed
        if state != "resolved" or changed is None:
            continue
        fp = g["fingerprint"]
        row = con.execute(_AFTER, [project, fp, changed, project, fp, changed]).fetchone()
        if row and row[1]:
            g["state"] = "regressed"
            g["regressed_count"] = int(row[1])
            g["regressed_in"] = [r for r in row[2] or () if r is not None]
            g["new_release"] = bool([r for r in row[3] or () if r is not None])  # NULL: none

"""Alert history and state in the DuckDB file: alerts, their transitions, delivery attempts and
silences, in tables of their own (never ``items``).

Writes (:func:`save`) run on the store's writer thread (``Writer.run_exclusive``), so this
process keeps one writer; reads take the caller's cursor. An alert row holds everything a
restart needs: active alerts come back as they were (announced or not), and the last
announcement per fingerprint restores the cooldown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from wasmwatch.alerts.delivery import Attempt
from wasmwatch.alerts.silences import Matcher, Silence
from wasmwatch.alerts.state import Alert

__all__ = ["DDL", "Op", "list_alerts", "load_active", "load_announced", "load_silences", "prune",
           "save"]

Connection = Any  # a duckdb connection or cursor
Op = Alert | Attempt | Silence | tuple[str, int, str | None, str, float | None]  # transition

DDL = (
    "CREATE TABLE IF NOT EXISTS alerts (id VARCHAR PRIMARY KEY, project VARCHAR NOT NULL, "
    "rule VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL, labels VARCHAR NOT NULL, "
    "severity VARCHAR NOT NULL, state VARCHAR NOT NULL, value DOUBLE, threshold DOUBLE, "
    "started_at BIGINT NOT NULL, fired_at BIGINT, resolved_at BIGINT, last_breach_at BIGINT, "
    "description VARCHAR, notified_at BIGINT, flapping BOOLEAN, silenced BOOLEAN)",
    "CREATE TABLE IF NOT EXISTS alert_transitions (alert_id VARCHAR NOT NULL, at_ms BIGINT NOT NULL, "
    "from_state VARCHAR, to_state VARCHAR NOT NULL, value DOUBLE)",
    "CREATE TABLE IF NOT EXISTS alert_deliveries (alert_id VARCHAR NOT NULL, channel VARCHAR "
    "NOT NULL, kind VARCHAR NOT NULL, attempt INTEGER NOT NULL, at_ms BIGINT NOT NULL, "
    "outcome VARCHAR NOT NULL, error VARCHAR, duration_ms DOUBLE)",
    "CREATE TABLE IF NOT EXISTS alert_silences (id VARCHAR PRIMARY KEY, project VARCHAR NOT NULL, "
    "matchers VARCHAR NOT NULL, starts_at BIGINT NOT NULL, ends_at BIGINT NOT NULL, "
    "comment VARCHAR, created_by VARCHAR)",
)
_ALERT_COLUMNS = ("id, project, rule, fingerprint, labels, severity, state, value, threshold, "
                  "started_at, fired_at, resolved_at, last_breach_at, description, notified_at, "
                  "flapping, silenced")


def ensure(con: Connection) -> None:
    for statement in DDL:
        con.execute(statement)


def _alert_row(a: Alert) -> list[Any]:
    return [a.id, a.project, a.rule, a.fingerprint, json.dumps(a.labels, sort_keys=True),
            a.severity, a.state, a.value, a.threshold, a.started_at, a.fired_at, a.resolved_at,
            a.last_breach_at, a.description, a.notified_at, a.flapping, a.silenced]


def save(con: Connection, ops: Sequence[Op]) -> None:
    """Write a batch of changes in one transaction."""
    con.execute("BEGIN")
    try:
        for op in ops:
            if isinstance(op, Alert):
                con.execute(f"INSERT OR REPLACE INTO alerts ({_ALERT_COLUMNS}) VALUES "
                            f"({', '.join('?' * 17)})", _alert_row(op))
            elif isinstance(op, Attempt):
                con.execute("INSERT INTO alert_deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            [op.alert_id, op.channel, op.kind, op.attempt, op.at_ms, op.outcome,
                             op.error, op.duration_ms])
            elif isinstance(op, Silence):
                con.execute("INSERT OR REPLACE INTO alert_silences VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [op.id, op.project, json.dumps([m.as_dict() for m in op.matchers]),
                             op.starts_at, op.ends_at, op.comment, op.created_by])
            else:
                con.execute("INSERT INTO alert_transitions VALUES (?, ?, ?, ?, ?)",
                            [op[0], op[1], op[2], op[3], op[4]])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def prune(con: Connection, project: str, cutoff_ms: int) -> int:
    """Retention: resolved alerts that ended before ``cutoff_ms``, with their rows; old silences."""
    old = "SELECT id FROM alerts WHERE project = ? AND state = 'resolved' AND resolved_at < ?"
    con.execute("BEGIN")
    try:
        for table in ("alert_transitions", "alert_deliveries"):
            con.execute(f"DELETE FROM {table} WHERE alert_id IN ({old})", [project, cutoff_ms])
        row = con.execute("DELETE FROM alerts WHERE project = ? AND state = 'resolved' AND "
                          "resolved_at < ?", [project, cutoff_ms]).fetchone()
        con.execute("DELETE FROM alert_silences WHERE project = ? AND ends_at < ?",
                    [project, cutoff_ms])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(row[0]) if row else 0


def _alert(r: Sequence[Any]) -> Alert:
    return Alert(id=r[0], project=r[1], rule=r[2], fingerprint=r[3], labels=json.loads(r[4]),
                 severity=r[5], state=r[6], value=r[7], threshold=r[8], started_at=r[9],
                 fired_at=r[10], resolved_at=r[11], last_breach_at=r[12] or r[9],
                 description=r[13] or "", notified_at=r[14], flapping=bool(r[15]),
                 silenced=bool(r[16]))


def load_active(con: Connection, project: str) -> list[Alert]:
    rows = con.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE project = ? AND state IN "
                       "('pending', 'firing')", [project]).fetchall()
    return [_alert(r) for r in rows]


def load_announced(con: Connection, project: str) -> dict[str, int]:
    rows = con.execute("SELECT fingerprint, max(notified_at) FROM alerts WHERE project = ? AND "
                       "notified_at IS NOT NULL GROUP BY fingerprint", [project]).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def load_silences(con: Connection, project: str, since_ms: int) -> list[Silence]:
    rows = con.execute("SELECT id, matchers, starts_at, ends_at, comment, created_by, project "
                       "FROM alert_silences WHERE project = ? AND ends_at >= ? ORDER BY starts_at",
                       [project, since_ms]).fetchall()
    return [Silence(r[0], tuple(Matcher(m["name"], m["value"], bool(m.get("regex")))
                                for m in json.loads(r[1])), r[2], r[3], r[4] or "", r[5] or "",
                    r[6]) for r in rows]


def list_alerts(con: Connection, project: str, *, since_ms: int, state: str | None = None,
                rule: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Alerts started or still open since ``since_ms``, newest first, with transitions and
    delivery attempts."""
    where, params = ["project = ?", "(started_at >= ? OR state <> 'resolved' OR "
                     "resolved_at >= ?)"], [project, since_ms, since_ms]
    if state:
        where.append("state = ?")
        params.append(state)
    if rule:
        where.append("rule = ?")
        params.append(rule)
    rows = con.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE {' AND '.join(where)} "
                       "ORDER BY started_at DESC, id LIMIT ?", [*params, limit]).fetchall()
    alerts: list[dict[str, Any]] = [_alert(r).as_dict() for r in rows]
    if not alerts:
        return []
    ids = [a["id"] for a in alerts]
    transitions: dict[str, list[dict[str, Any]]] = {a["id"]: [] for a in alerts}
    deliveries: dict[str, list[dict[str, Any]]] = {a["id"]: [] for a in alerts}
    for r in con.execute("SELECT alert_id, at_ms, from_state, to_state, value FROM alert_transitions "
                         "WHERE list_contains(?, alert_id) ORDER BY at_ms", [ids]).fetchall():
        transitions[r[0]].append({"at": r[1], "from": r[2], "to": r[3], "value": r[4]})
    for r in con.execute("SELECT alert_id, channel, kind, attempt, at_ms, outcome, error, duration_ms "
                         "FROM alert_deliveries WHERE list_contains(?, alert_id) ORDER BY at_ms",
                         [ids]).fetchall():
        deliveries[r[0]].append({"channel": r[1], "kind": r[2], "attempt": r[3],
                                          "at": r[4], "outcome": r[5], "error": r[6],
                                          "duration_ms": r[7]})
    for a in alerts:
        a["transitions"], a["deliveries"] = transitions[a["id"]], deliveries[a["id"]]
    return alerts

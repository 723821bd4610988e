"""Projects and their ingest keys: two small tables beside ``items``, and the SQL over them.

``projects`` holds one row per project (``id``, ``name``, ``allowed_origins``, ``created_at``);
``ingest_keys`` one row per public key (``key``, ``project``, ``label``, ``created_at``,
``revoked_at``). A key is never deleted: revoking sets ``revoked_at``, so a revoked key can
never be handed out again or come back by accident.

Data dirs made by wasmwatch 0.1 have a single ``projects`` table with the key in it
(``ingest_key``, ``created``); :func:`migrate` moves them to this layout in one transaction,
keeping the key working. The default project's key from settings or first start carries the
label ``default`` (:data:`DEFAULT_LABEL`).

Every function takes a connection and runs on the thread that owns it (the writer thread in a
running server, the CLI's own connection otherwise); changes are single statements or one
transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import NamedTuple

import duckdb

from wasmwatch.errors import ConfigError, Conflict, NotFound

DEFAULT = "default"
DEFAULT_LABEL = "default"

DDL = (
    "CREATE TABLE IF NOT EXISTS projects (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, "
    "allowed_origins VARCHAR[] NOT NULL, created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ingest_keys (key VARCHAR PRIMARY KEY, project VARCHAR NOT NULL, "
    "label VARCHAR NOT NULL, created_at BIGINT NOT NULL, revoked_at BIGINT)",
)
_V01 = (  # the 0.1 layout: projects(id, name, ingest_key, allowed_origins, created)
    DDL[1],
    "INSERT INTO ingest_keys SELECT ingest_key, id, CASE WHEN id = 'default' THEN 'default' "
    "ELSE '' END, created, NULL FROM projects",
    DDL[0].replace("EXISTS projects", "EXISTS projects_v2"),
    "INSERT INTO projects_v2 SELECT id, name, coalesce(allowed_origins, []), created FROM projects",
    "DROP TABLE projects",
    "ALTER TABLE projects_v2 RENAME TO projects",
)


class Project(NamedTuple):
    id: str
    name: str
    allowed_origins: tuple[str, ...]
    created_at: int = 0


class IngestKey(NamedTuple):
    key: str
    project: str
    label: str
    created_at: int
    revoked_at: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_key() -> str:
    return "pk_" + secrets.token_urlsafe(18)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                       [table]).fetchall()
    return {r[0] for r in rows}


def migrate(con: duckdb.DuckDBPyConnection) -> bool:
    """Create the tables, or move a 0.1 data dir's ``projects`` to them; True if it migrated."""
    if "ingest_key" not in _columns(con, "projects"):
        for statement in DDL:
            con.execute(statement)
        return False
    con.execute("BEGIN")
    try:
        for statement in _V01:
            con.execute(statement)
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise
    return True


def _project(row: tuple[object, ...]) -> Project:
    return Project(str(row[0]), str(row[1]), tuple(row[2] or ()), int(row[3]))  # type: ignore[arg-type, call-overload]


def _key(row: tuple[object, ...]) -> IngestKey:
    revoked = row[4]
    return IngestKey(str(row[0]), str(row[1]), str(row[2]), int(row[3]),  # type: ignore[call-overload]
                     None if revoked is None else int(revoked))  # type: ignore[call-overload]


def projects(con: duckdb.DuckDBPyConnection) -> list[Project]:
    rows = con.execute("SELECT id, name, allowed_origins, created_at FROM projects "
                       "ORDER BY created_at, id").fetchall()
    return [_project(r) for r in rows]


def get_project(con: duckdb.DuckDBPyConnection, project_id: str) -> Project:
    row = con.execute("SELECT id, name, allowed_origins, created_at FROM projects WHERE id = ?",
                      [project_id]).fetchone()
    if row is None:
        raise NotFound(f"no such project: {project_id}")
    return _project(row)


def keys(con: duckdb.DuckDBPyConnection, project_id: str | None = None) -> list[IngestKey]:
    where, params = ("WHERE project = ?", [project_id]) if project_id is not None else ("", [])
    rows = con.execute(f"SELECT key, project, label, created_at, revoked_at FROM ingest_keys "
                       f"{where} ORDER BY created_at, key", params).fetchall()
    return [_key(r) for r in rows]


def create_project(con: duckdb.DuckDBPyConnection, project_id: str, name: str,
                   origins: Sequence[str], now_ms: int, label: str = "") -> tuple[Project, IngestKey]:
    """A new project and its first key, in one transaction; 409 if the id is taken."""
    if con.execute("SELECT 1 FROM projects WHERE id = ?", [project_id]).fetchone():
        raise Conflict(f"project {project_id} exists already")
    key = IngestKey(new_key(), project_id, label, now_ms)
    con.execute("BEGIN")
    try:
        con.execute("INSERT INTO projects VALUES (?, ?, ?, ?)",
                    [project_id, name, list(origins), now_ms])
        con.execute("INSERT INTO ingest_keys VALUES (?, ?, ?, ?, NULL)", list(key[:4]))
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise
    return Project(project_id, name, tuple(origins), now_ms), key


def update_project(con: duckdb.DuckDBPyConnection, project_id: str, *, name: str | None = None,
                   origins: Sequence[str] | None = None) -> Project:
    current = get_project(con, project_id)
    new_name = current.name if name is None else name
    new_origins = list(current.allowed_origins if origins is None else origins)
    con.execute("UPDATE projects SET name = ?, allowed_origins = ? WHERE id = ?",
                [new_name, new_origins, project_id])
    return current._replace(name=new_name, allowed_origins=tuple(new_origins))


def create_key(con: duckdb.DuckDBPyConnection, project_id: str, label: str, now_ms: int,
               key: str | None = None) -> IngestKey:
    get_project(con, project_id)
    made = IngestKey(key or new_key(), project_id, label, now_ms)
    con.execute("INSERT INTO ingest_keys VALUES (?, ?, ?, ?, NULL)", list(made[:4]))
    return made


def revoke_key(con: duckdb.DuckDBPyConnection, key: str, now_ms: int) -> IngestKey:
    """Revoke a key (a second revoke keeps the first time); 404 if there is no such key."""
    row = con.execute("UPDATE ingest_keys SET revoked_at = coalesce(revoked_at, ?) WHERE key = ? "
                      "RETURNING key, project, label, created_at, revoked_at", [now_ms, key]).fetchone()
    if row is None:
        raise NotFound("no such ingest key")
    return _key(row)


def ensure_default(con: duckdb.DuckDBPyConnection, key: str | None, origins: Sequence[str],
                   now_ms: int) -> Project:
    """The default project as settings say, made on first start.

    Given origins replace the stored ones (none keep them). A given key becomes the project's
    ``default`` key, replacing (revoking) the previous one, as 0.1 did; with no key given, a
    key is made only if the project never had one. A given key that was revoked, or that
    belongs to another project, is refused: a revoked key never comes back by a restart.
    """
    if not con.execute("SELECT 1 FROM projects WHERE id = ?", [DEFAULT]).fetchone():
        con.execute("INSERT INTO projects VALUES (?, ?, ?, ?)", [DEFAULT, DEFAULT, list(origins), now_ms])
    elif origins:
        update_project(con, DEFAULT, origins=origins)
    if key:
        _ensure_given_key(con, key, now_ms)
    elif not keys(con, DEFAULT):
        create_key(con, DEFAULT, DEFAULT_LABEL, now_ms)
    return get_project(con, DEFAULT)


def _ensure_given_key(con: duckdb.DuckDBPyConnection, key: str, now_ms: int) -> None:
    row = con.execute("SELECT key, project, label, created_at, revoked_at FROM ingest_keys "
                      "WHERE key = ?", [key]).fetchone()
    if row is not None:
        found = _key(row)
        if found.project != DEFAULT:
            raise ConfigError(f"ingest_key is a key of project {found.project}, not of the "
                              "default project; set another key or unset ingest_key")
        if not found.active:
            raise ConfigError("ingest_key was revoked; set a new key or unset ingest_key")
        return
    con.execute("UPDATE ingest_keys SET revoked_at = ? WHERE project = ? AND label = ? "
                "AND revoked_at IS NULL", [now_ms, DEFAULT, DEFAULT_LABEL])
    create_key(con, DEFAULT, DEFAULT_LABEL, now_ms, key=key)


def snapshot(con: duckdb.DuckDBPyConnection) -> tuple[list[Project], list[IngestKey]]:
    """Every project and key, for the server's in-memory keyring."""
    return projects(con), keys(con)

"""Projects and ingest keys in a running server: which key opens which project, and changes.

:class:`Keyring` answers, in memory and without touching the store, which project an ingest
key belongs to. :class:`ProjectAdmin` makes changes (create a project, set its origins, create
or revoke a key): each runs on the store's writer thread and hands back the whole new state,
which replaces the keyring's in one assignment before the change is answered, so a revoked key
fails on the very next request.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import duckdb

from wasmwatch.errors import BadRequest, Forbidden, NotFound, Unauthorized
from wasmwatch.store import projects as tables
from wasmwatch.store.projects import DEFAULT, DEFAULT_LABEL, IngestKey, Project

__all__ = ["DEFAULT", "IngestKey", "Keyring", "Project", "ProjectAdmin", "check_id",
           "check_origins", "key_json", "project_json"]

T = TypeVar("T")
Con = duckdb.DuckDBPyConnection
#: runs a function on the store's writer connection, on its thread
RunOnStore = Callable[[Callable[[Con], Any]], Awaitable[Any]]
State = tuple[list[Project], list[IngestKey]]

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.:-]+")
MAX_LABEL = 200


def check_id(project_id: object) -> str:
    if not isinstance(project_id, str) or not _ID.fullmatch(project_id):
        raise BadRequest("id: expected 1 to 63 lower-case letters, digits, '-' or '_', "
                         "starting with a letter or digit")
    return project_id


def check_origins(origins: object) -> list[str]:
    """Origins as browsers send them (``https://app.example[:port]``); an empty list means any."""
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise BadRequest("allowed_origins: expected a list of origins like https://app.example")
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise BadRequest(f"allowed_origins: {origin!r} is not an origin like "
                             "https://app.example (scheme and host, no path)")
    return list(dict.fromkeys(origins))


def check_label(label: object) -> str:
    if not isinstance(label, str) or len(label) > MAX_LABEL:
        raise BadRequest(f"label: expected a string of at most {MAX_LABEL} characters")
    return label


def project_json(project: Project, active_keys: int) -> dict[str, Any]:
    return {"id": project.id, "name": project.name, "allowed_origins": list(project.allowed_origins),
            "created_at": project.created_at, "active_keys": active_keys}


def key_json(key: IngestKey) -> dict[str, Any]:
    return {"key": key.key, "project": key.project, "label": key.label,
            "created_at": key.created_at, "revoked_at": key.revoked_at, "active": key.active}


class Keyring:
    """The current projects and active keys; replaced whole by :meth:`load`."""

    def __init__(self) -> None:
        self._projects: dict[str, Project] = {}
        self._keys: dict[str, Project] = {}
        self._all: list[IngestKey] = []

    def load(self, state: State) -> None:
        projects, keys = state
        by_id = {p.id: p for p in projects}
        active = {k.key: by_id[k.project] for k in keys if k.active and k.project in by_id}
        self._projects, self._keys, self._all = by_id, active, list(keys)

    def project_for(self, key: str) -> Project | None:
        return self._keys.get(key)

    def authorize(self, key: str | None, origin: str | None) -> Project:
        """The project this key opens, if the origin may send to it."""
        if not key:
            raise Unauthorized("missing ingest key: pass ?key= or the X-WasmWatch-Key header")
        project = self._keys.get(key)
        if project is None:
            raise Unauthorized("unknown or revoked ingest key")
        if project.allowed_origins and origin and origin not in project.allowed_origins:
            raise Forbidden(f"origin {origin} is not allowed for this project")
        return project

    def project(self, project_id: str) -> Project:
        found = self._projects.get(project_id)
        if found is None:
            raise NotFound(f"no such project: {project_id}")
        return found

    @property
    def projects(self) -> list[Project]:
        return list(self._projects.values())

    def ingest_keys(self, project_id: str | None = None) -> list[IngestKey]:
        return [k for k in self._all if project_id is None or k.project == project_id]

    def active_count(self, project_id: str) -> int:
        return sum(1 for k in self._all if k.project == project_id and k.active)

    @property
    def default_key(self) -> str | None:
        """The default project's ``default`` key, else its newest active key, else None."""
        mine = [k for k in self._all if k.project == DEFAULT and k.active]
        labelled = [k for k in mine if k.label == DEFAULT_LABEL]
        chosen = labelled or mine
        return chosen[-1].key if chosen else None

    def listing(self) -> list[dict[str, Any]]:
        return [project_json(p, self.active_count(p.id)) for p in self._projects.values()]


class ProjectAdmin:
    """Changes to projects and keys, through the store's writer, then into the keyring."""

    def __init__(self, keyring: Keyring, run: RunOnStore) -> None:
        self.keyring = keyring
        self._run = run

    async def _change(self, fn: Callable[[Con], T]) -> T:
        def apply(con: Con) -> tuple[T, State]:
            return fn(con), tables.snapshot(con)

        result, state = await self._run(apply)
        self.keyring.load(state)
        return result  # type: ignore[no-any-return]

    async def create_project(self, project_id: str, name: str | None, origins: Sequence[str],
                             label: str, now_ms: int) -> tuple[Project, IngestKey]:
        return await self._change(lambda con: tables.create_project(
            con, check_id(project_id), name or project_id, check_origins(list(origins)),
            now_ms, label))

    async def update_project(self, project_id: str, name: str | None,
                             origins: Sequence[str] | None) -> Project:
        checked = None if origins is None else check_origins(list(origins))
        return await self._change(
            lambda con: tables.update_project(con, project_id, name=name, origins=checked))

    async def create_key(self, project_id: str, label: str, now_ms: int) -> IngestKey:
        self.keyring.project(project_id)
        return await self._change(
            lambda con: tables.create_key(con, project_id, check_label(label), now_ms))

    async def revoke_key(self, key: str, now_ms: int) -> IngestKey:
        return await self._change(lambda con: tables.revoke_key(con, key, now_ms))

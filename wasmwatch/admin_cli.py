"""``wasmwatch projects ...`` and ``wasmwatch keys ...``: projects and ingest keys from the shell.

::

    wasmwatch projects list
    wasmwatch projects create ID [--name N] [--origin O ...] [--label L]
    wasmwatch projects update ID [--name N] [--origin O ... | --any-origin]
    wasmwatch keys list [--project P]
    wasmwatch keys create --project P [--label L]
    wasmwatch keys revoke KEY

Each takes ``--data-dir`` / ``--config`` like ``serve`` and ``--json`` for machine output.
With the server stopped they change the data dir's DuckDB file directly. A running server
holds that file locked, so then they go through its admin API instead: at ``--url`` (default:
``http://HOST:PORT`` from the same settings) with ``--token`` (default: the ``admin_token``
setting, ``WASMWATCH_ADMIN_TOKEN``); the server applies the change at once (a revoked key gets
401 on its next request). ``--url`` given means: always go through the API.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any, Protocol

import duckdb

from wasmwatch import listen
from wasmwatch.config import Settings, data_path, load
from wasmwatch.errors import ConfigError, StartupError, WasmWatchError
from wasmwatch.projects import check_id, check_label, check_origins, key_json, project_json
from wasmwatch.store import projects as tables

COMMANDS = ("projects", "keys")
Json = dict[str, Any]


class CliError(WasmWatchError):
    """A command that cannot be done; printed as one line, exit code 1."""


class Catalog(Protocol):
    def call(self, method: str, path: str, body: Json | None = None) -> Json: ...


# -- the two ways to reach the data ----------------------------------------------------------


class LocalCatalog:
    """The data dir's DuckDB file, opened by this process (no server running on it), with the
    data dir's lock held so that no server starts on it meanwhile."""

    def __init__(self, con: duckdb.DuckDBPyConnection, lock: listen.DataDirLock | None = None) -> None:
        self.con = con
        self.lock = lock
        tables.migrate(con)
        tables.ensure_default(con, None, (), _now_ms())

    def close(self) -> None:
        self.con.close()
        if self.lock is not None:
            self.lock.release()

    def call(self, method: str, path: str, body: Json | None = None) -> Json:
        """The admin API's routes, answered from the file (same shapes as the server's)."""
        con, body = self.con, body or {}
        parts = path.strip("/").split("/")[2:]  # after api/v1
        if parts == ["projects"] and method == "GET":
            counts = {p.id: sum(k.active for k in tables.keys(con, p.id)) for p in tables.projects(con)}
            return {"projects": [project_json(p, counts[p.id]) for p in tables.projects(con)]}
        if parts == ["projects"]:
            project, key = tables.create_project(
                con, check_id(body["id"]), body.get("name") or body["id"],
                check_origins(body.get("allowed_origins", [])), _now_ms(),
                check_label(body.get("label", "")))
            return {"project": project_json(project, 1), "key": key_json(key)}
        if len(parts) == 2 and parts[0] == "projects":
            origins = body.get("allowed_origins")
            project = tables.update_project(con, parts[1], name=body.get("name"), origins=None
                                            if origins is None else check_origins(origins))
            return project_json(project, sum(k.active for k in tables.keys(con, project.id)))
        if len(parts) == 3 and method == "GET":
            tables.get_project(con, parts[1])
            return {"keys": [key_json(k) for k in tables.keys(con, parts[1])]}
        if len(parts) == 3:
            return key_json(tables.create_key(con, parts[1], check_label(body.get("label", "")),
                                              _now_ms()))
        if parts == ["keys"]:
            return {"keys": [key_json(k) for k in tables.keys(con)]}
        return key_json(tables.revoke_key(con, urllib.parse.unquote(parts[1]), _now_ms()))


class RemoteCatalog:
    """A running server's admin API."""

    def __init__(self, url: str, token: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def call(self, method: str, path: str, body: Json | None = None) -> Json:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"authorization": f"Bearer {self.token}", "content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                result: Json = json.loads(answer.read() or b"{}")
                return result
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                message = exc.reason
            raise CliError(f"the server at {self.url} answered {exc.code}: {message}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise CliError(f"cannot reach the server at {self.url} ({exc}); "
                           "pass the running server's address with --url") from exc


def _now_ms() -> int:
    return int(time.time() * 1000)


def _local_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{'[' + host + ']' if ':' in host else host}:{settings.port}"


def open_catalog(settings: Settings, url: str | None, token: str | None) -> Catalog:
    """The file if no server holds it, else the running server's admin API."""
    if url:
        return RemoteCatalog(url, _token(settings, token, url))
    path = data_path(settings) / "wasmwatch.duckdb"
    try:
        lock = listen.lock_data_dir(path.parent)  # what `serve` holds while it runs
    except StartupError as exc:
        if "in use" not in str(exc):
            raise CliError(str(exc)) from exc
    else:
        try:
            return LocalCatalog(duckdb.connect(str(path)), lock)
        except duckdb.Error as exc:
            lock.release()
            if "lock" not in str(exc).lower():
                raise CliError(f"cannot open {path}: {exc}") from exc
    url = _local_url(settings)
    return RemoteCatalog(url, _token(settings, token, url, in_use=path.parent))


def _token(settings: Settings, token: str | None, url: str, in_use: object = None) -> str:
    found = token or settings.admin_token
    if not found:
        why = f"the data dir {in_use} is in use by a running server, so this goes through " \
              f"its admin API at {url}" if in_use else f"the admin API at {url} needs a token"
        raise CliError(f"{why}: pass the admin token with --token or WASMWATCH_ADMIN_TOKEN "
                       "(`wasmwatch serve` prints it at start)")
    return found


# -- commands ------------------------------------------------------------------------------


def _when(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def _show_projects(result: Json) -> str:
    rows = [["ID", "NAME", "KEYS", "ALLOWED ORIGINS"]]
    rows += [[p["id"], p["name"], str(p.get("active_keys", "")),
              ",".join(p["allowed_origins"]) or "any"] for p in result["projects"]]
    return _table(rows)


def _show_keys(result: Json) -> str:
    rows = [["KEY", "PROJECT", "LABEL", "CREATED", "REVOKED"]]
    rows += [[k["key"], k["project"], k["label"] or "-", _when(k["created_at"]),
              _when(k["revoked_at"]) if k["revoked_at"] is not None else "active"]
             for k in result["keys"]]
    return _table(rows)


def _show_project(p: Json) -> str:
    return f"project {p['id']} ({p['name']}), allowed origins: {','.join(p['allowed_origins']) or 'any'}"


def _run(args: argparse.Namespace, catalog: Catalog) -> tuple[Json, str]:
    """Do the command; its JSON answer and its human summary."""
    cmd = (args.command, args.action)
    if cmd == ("projects", "list"):
        result = catalog.call("GET", "/api/v1/projects")
        return result, _show_projects(result)
    if cmd == ("projects", "create"):
        result = catalog.call("POST", "/api/v1/projects", {
            "id": args.id, "name": args.name, "allowed_origins": args.origin or [],
            "label": args.label})
        return result, f"{_show_project(result['project'])}\ningest key {result['key']['key']}"
    if cmd == ("projects", "update"):
        change: Json = {"name": args.name}
        if args.any_origin or args.origin:
            change["allowed_origins"] = [] if args.any_origin else args.origin
        result = catalog.call("PATCH", f"/api/v1/projects/{args.id}", change)
        return result, _show_project(result)
    if cmd == ("keys", "list"):
        path = f"/api/v1/projects/{args.project}/keys" if args.project else "/api/v1/keys"
        result = catalog.call("GET", path)
        return result, _show_keys(result)
    if cmd == ("keys", "create"):
        result = catalog.call("POST", f"/api/v1/projects/{args.project}/keys", {"label": args.label})
        return result, f"ingest key {result['key']} (project {result['project']})"
    result = catalog.call("DELETE", f"/api/v1/keys/{urllib.parse.quote(args.key, safe='')}")
    return result, f"revoked {result['key']} (project {result['project']}) at {_when(result['revoked_at'])}"


def main(args: argparse.Namespace) -> int:
    try:
        settings = load({"data_dir": args.data_dir, "config": args.config})
        catalog = open_catalog(settings, args.url, args.token)
    except ConfigError as exc:
        print(f"wasmwatch: {exc}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"wasmwatch: {exc}", file=sys.stderr)
        return 1
    try:
        result, human = _run(args, catalog)
    except WasmWatchError as exc:
        print(f"wasmwatch: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    finally:
        if isinstance(catalog, LocalCatalog):
            catalog.close()
    print(json.dumps(result, indent=2) if args.json else human, flush=True)
    return 0


# -- the parser ------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", dest="data_dir", help="where the store lives")
    parser.add_argument("--config", help="a TOML settings file")
    parser.add_argument("--url", help="a running server's address: go through its admin API")
    parser.add_argument("--token", help="the admin token for --url (default: admin_token setting)")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")


def add_commands(commands: Any) -> None:
    """Add ``projects`` and ``keys`` to the ``wasmwatch`` parser's subcommands."""
    projects = commands.add_parser("projects", help="list, create and update projects")
    actions = projects.add_subparsers(dest="action", required=True)
    parsers: dict[str, argparse.ArgumentParser] = {}
    parsers["list"] = actions.add_parser("list", help="every project")
    create = parsers["create"] = actions.add_parser("create", help="a new project and its first key")
    create.add_argument("id", help="the project's id: lower-case letters, digits, - and _")
    create.add_argument("--label", default="", help="a label for the first key")
    update = parsers["update"] = actions.add_parser("update", help="change name or allowed origins")
    update.add_argument("id")
    update.add_argument("--any-origin", action="store_true", help="allow every origin")
    for p in (create, update):
        p.add_argument("--name", help="a display name")
        p.add_argument("--origin", action="append", help="an allowed origin (repeat for more)")
    keys = commands.add_parser("keys", help="list, create and revoke ingest keys")
    key_actions = keys.add_subparsers(dest="action", required=True)
    listing = parsers["keys list"] = key_actions.add_parser("list", help="keys, revoked included")
    listing.add_argument("--project", help="only this project's keys")
    make = parsers["keys create"] = key_actions.add_parser("create", help="a new ingest key")
    make.add_argument("--project", required=True)
    make.add_argument("--label", default="")
    revoke = parsers["keys revoke"] = key_actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key")
    for p in parsers.values():
        _common(p)


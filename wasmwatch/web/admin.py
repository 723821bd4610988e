"""The projects and keys admin API (admin token), and its part of the OpenAPI document.

``GET|POST /api/v1/projects``, ``GET|PATCH /api/v1/projects/{id}``,
``GET|POST /api/v1/projects/{id}/keys``, ``GET /api/v1/keys``, ``DELETE /api/v1/keys/{key}``.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec

from wasmwatch.errors import BadRequest, MethodNotAllowed, NotFound
from wasmwatch.ingest.validate import path_error
from wasmwatch.projects import key_json, project_json
from wasmwatch.runtime import Runtime
from wasmwatch.web.http import Request, Response, json_response

T = TypeVar("T")
_BODY_LIMIT = 64 * 1024
_PROJECTS = "/api/v1/projects/"
_KEYS = "/api/v1/keys/"


ProjectId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
                                         description="lower-case letters, digits, - and _")]
Origin = Annotated[str, msgspec.Meta(pattern=r"^https?://[A-Za-z0-9.:-]+$",
                                     description="scheme and host, e.g. https://app.example")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Label = Annotated[str, msgspec.Meta(max_length=200)]


class NewProject(msgspec.Struct, forbid_unknown_fields=True):
    """A project to create; its first ingest key is made with it. No origins: any origin."""

    id: ProjectId
    name: Name | None = None
    allowed_origins: list[Origin] = []
    label: Label = ""


class ProjectChange(msgspec.Struct, forbid_unknown_fields=True):
    """What to change in a project; ``allowed_origins: []`` means any origin."""

    name: Name | None = None
    allowed_origins: list[Origin] | None = None


class NewKey(msgspec.Struct, forbid_unknown_fields=True):
    label: Label = ""


async def _body(request: Request, typ: type[T]) -> T:
    raw = await request.body(_BODY_LIMIT)
    try:
        return msgspec.json.decode(raw or b"{}", type=typ)
    except msgspec.ValidationError as exc:
        raise BadRequest(path_error("body", exc)) from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body: malformed JSON: {exc}") from exc


def _project_with_keys(rt: Runtime, project_id: str) -> dict[str, Any]:
    project = rt.keyring.project(project_id)
    return {**project_json(project, rt.keyring.active_count(project.id)),
            "keys": [key_json(k) for k in rt.keyring.ingest_keys(project.id)]}


async def projects(rt: Runtime, request: Request) -> Response:
    """GET: every project; POST: create one (with its first key), 201."""
    rt.authorize_admin(request)
    if request.method != "POST":
        return json_response({"projects": rt.keyring.listing()})
    new = await _body(request, NewProject)
    project, key = await rt.project_admin.create_project(
        new.id, new.name, new.allowed_origins, new.label, rt.clock.now_ms())
    return json_response({"project": project_json(project, 1), "key": key_json(key)}, 201)


def _split(request: Request) -> tuple[str, str | None]:
    parts = request.path[len(_PROJECTS):].split("/")
    if len(parts) == 1 and parts[0]:
        return parts[0], None
    if len(parts) == 2 and parts[0] and parts[1] == "keys":
        return parts[0], "keys"
    raise NotFound(f"no such path: {request.path}")


async def project(rt: Runtime, request: Request) -> Response:
    """``/api/v1/projects/{id}`` (GET, PATCH) and ``/api/v1/projects/{id}/keys`` (GET, POST)."""
    rt.authorize_admin(request)
    project_id, sub = _split(request)
    allowed = ("GET", "POST") if sub == "keys" else ("GET", "PATCH")
    if request.method not in (*allowed, "HEAD"):
        allow = ", ".join((*allowed, "HEAD"))
        raise MethodNotAllowed(f"{request.method} is not allowed on {request.path}; "
                               f"use {allow}", {"allow": allow})
    if sub is None:
        if request.method == "PATCH":
            change = await _body(request, ProjectChange)
            rt.keyring.project(project_id)
            await rt.project_admin.update_project(project_id, change.name, change.allowed_origins)
        return json_response(_project_with_keys(rt, project_id))
    if request.method == "POST":
        new = await _body(request, NewKey)
        key = await rt.project_admin.create_key(project_id, new.label, rt.clock.now_ms())
        return json_response(key_json(key), 201)
    rt.keyring.project(project_id)
    return json_response({"keys": [key_json(k) for k in rt.keyring.ingest_keys(project_id)]})


async def keys(rt: Runtime, request: Request) -> Response:
    """GET: every key of every project, revoked ones included."""
    rt.authorize_admin(request)
    return json_response({"keys": [key_json(k) for k in rt.keyring.ingest_keys()]})


async def key(rt: Runtime, request: Request) -> Response:
    """DELETE ``/api/v1/keys/{key}``: revoke it; the next request with it gets 401."""
    rt.authorize_admin(request)
    value = request.path[len(_KEYS):]
    if not value or "/" in value:
        raise NotFound(f"no such path: {request.path}")
    return json_response(key_json(await rt.project_admin.revoke_key(value, rt.clock.now_ms())))


# -- OpenAPI -------------------------------------------------------------------------------

SCHEMAS = (NewProject, ProjectChange, NewKey)
_ADMIN: list[dict[str, list[str]]] = [{"bearer": []}]
_KEY_SCHEMA = {"type": "object", "required": ["key", "project", "label", "created_at", "active"],
               "properties": {"key": {"type": "string"}, "project": {"type": "string"},
                              "label": {"type": "string"}, "created_at": {"type": "integer"},
                              "revoked_at": {"type": ["integer", "null"]},
                              "active": {"type": "boolean"}}}
_PROJECT_SCHEMA = {"type": "object", "required": ["id", "name", "allowed_origins", "created_at"],
                   "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                                  "allowed_origins": {"type": "array", "items": {"type": "string"}},
                                  "created_at": {"type": "integer"},
                                  "active_keys": {"type": "integer"},
                                  "keys": {"type": "array", "items": _KEY_SCHEMA}}}


_WHY = {400: "malformed request, named in the message", 401: "missing or wrong admin token",
        404: "no such project or key", 409: "a project with this id exists already",
        429: "too many failed token attempts from this address (Retry-After)"}


def _json(schema: str | dict[str, Any]) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema
    return {"content": {"application/json": {"schema": ref}}}


def _op(summary: str, status: str, schema: dict[str, Any], codes: tuple[int, ...],
        body: str | None = None, params: tuple[str, ...] = ()) -> dict[str, Any]:
    errors = {str(c): {"description": _WHY[c], **_json("ErrorResponse")} for c in (*codes, 429)}
    op: dict[str, Any] = {"summary": summary, "security": _ADMIN,
                          "responses": {status: {"description": "ok", **_json(schema)}, **errors}}
    if params:
        op["parameters"] = [{"name": p, "in": "path", "required": True,
                             "schema": {"type": "string"}} for p in params]
    if body:
        op["requestBody"] = {"required": body == "NewProject", **_json(body)}  # others: {} if absent
    return op


PROJECT_SCOPED = ("/api/v1/summary", "/api/v1/series", "/api/v1/errors", "/api/v1/items",
                  "/api/v1/stream", "/api/v1/routes", "/api/v1/linked")


def with_project_param(paths: dict[str, Any]) -> dict[str, Any]:
    """The query endpoints' ``project`` parameter (and its 404), added to their operations."""
    param = {"name": "project", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "the project to read (default: default); no such project is a 404"}
    for path in PROJECT_SCOPED:
        op = paths.get(path, {}).get("get")
        if op is not None:
            op["parameters"] = [*op.get("parameters", []), param]
            op.setdefault("responses", {})["404"] = {"description": _WHY[404], **_json("ErrorResponse")}
    return paths


def openapi_paths() -> dict[str, Any]:
    """The admin API's paths, merged into the server's OpenAPI document."""
    listing = {"type": "object", "properties": {"projects": {"type": "array", "items": _PROJECT_SCHEMA}}}
    key_list = {"type": "object", "properties": {"keys": {"type": "array", "items": _KEY_SCHEMA}}}
    created = {"type": "object", "properties": {"project": _PROJECT_SCHEMA, "key": _KEY_SCHEMA}}
    pid = ("id",)
    return {
        "/api/v1/projects": {
            "get": _op("Every project", "200", listing, (401,)),
            "post": _op("Create a project and its first ingest key", "201", created,
                        (400, 401, 409), "NewProject")},
        "/api/v1/projects/{id}": {
            "get": _op("One project and its keys", "200", _PROJECT_SCHEMA, (401, 404), params=pid),
            "patch": _op("Change a project's name or allowed origins", "200", _PROJECT_SCHEMA,
                         (400, 401, 404), "ProjectChange", pid)},
        "/api/v1/projects/{id}/keys": {
            "get": _op("A project's ingest keys, revoked ones included", "200", key_list,
                       (401, 404), params=pid),
            "post": _op("Create an ingest key", "201", _KEY_SCHEMA, (400, 401, 404), "NewKey", pid)},
        "/api/v1/keys": {"get": _op("Every ingest key", "200", key_list, (401,))},
        "/api/v1/keys/{key}": {"delete": _op("Revoke an ingest key (at once)", "200", _KEY_SCHEMA,
                                             (401, 404), params=("key",))},
    }

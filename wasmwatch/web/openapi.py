"""The OpenAPI 3.1 document for every endpoint.

Request and response bodies are generated with ``msgspec.json.schema_components`` from the very
types the server decodes (:mod:`wasmwatch.ingest.schema`, the seed shapes in
:mod:`wasmwatch.ingest.seed`): items are a union discriminated by ``type``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec

from wasmwatch import __version__
from wasmwatch.ingest import schema as s
from wasmwatch.ingest import seed
from wasmwatch.query.series import METRICS as SERIES_METRICS
from wasmwatch.telemetry.logs import LEVELS
from wasmwatch.web import admin, otlp
from wasmwatch.web.query import FLAG_VALUES

_ADMIN: list[dict[str, list[str]]] = [{"bearer": []}]
_KEY: list[dict[str, list[str]]] = [{"ingestKey": []}, {"ingestHeader": []}]


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"description": _DESCRIPTIONS[code], "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}} for code in codes}


_DESCRIPTIONS = {400: "malformed request, named in the message", 401: "missing or wrong credentials",
                 403: "origin not allowed", 404: "not found", 413: "body too large",
                 415: "unsupported content type or encoding", 429: "rate limited (Retry-After)",
                 503: "write queue full or store unavailable (Retry-After)"}


def _json(ref: str | dict[str, Any]) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{ref}"} if isinstance(ref, str) else ref
    return {"content": {"application/json": {"schema": schema}}}


def _query(name: str, description: str, example: str | None = None,
           schema: dict[str, Any] | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": False,
                             "description": description, "schema": schema or {"type": "string"}}
    if example:
        param["example"] = example
    return param


# a boolean query parameter, as wasmwatch.web.query reads it
_FLAG = {"type": "string", "enum": list(FLAG_VALUES)}

# 5m to 30d, as wasmwatch.query.windows bounds it
_WINDOW_SCHEMA = {"type": "string", "pattern": r"^(?:[5-9]m|[1-5][0-9]m|(?:[1-9]|1[0-9]|2[0-4])h"
                  r"|(?:[1-9]|[12][0-9]|30)d)$"}
_WINDOW = _query("window", "time window, 5m to 30d", "1h", _WINDOW_SCHEMA)
_STEP = _query("step", "bucket width, 10s to 1d, at most 2000 buckets a window", "5m", {
    "type": "string", "pattern": r"^(?:[1-5][0-9]s|[1-9]m|[1-5][0-9]m|(?:[1-9]|1[0-9]|2[0-4])h|1d)$"})


def _limit(high: int) -> dict[str, Any]:
    return _query("limit", f"1 to {high} (clamped)", None, {"type": "integer"})
_FILTERS = [_query(n, f"only this {n}") for n in ("release", "browser", "operation")]
_OBJECT = {"type": "object", "additionalProperties": True}
_RANGE = [_query("from", "range start, epoch ms (with to; instead of window)"),
          _query("to", "range end, epoch ms (with from)")]


def _ingest_body() -> dict[str, Any]:
    return {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}},
        "text/plain": {"schema": {"$ref": "#/components/schemas/Envelope"}}}}


def admin_get(summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {"get": {"summary": summary, "security": _ADMIN, "parameters": params,
                    "responses": {"200": {"description": "ok", **_json(_OBJECT)}, **_errors(400, 401)}}}


def _paths() -> dict[str, Any]:
    return {
        "/api/v1/ingest": {"post": {
            "summary": "Ingest a batch of items from the SDK", "security": _KEY,
            "requestBody": _ingest_body(),
            "responses": {"200": {"description": "accepted items are durably stored",
                                  **_json("IngestResult")},
                          **_errors(400, 401, 403, 413, 415, 429, 503)}}},
        "/api/telemetry/wasm": {"post": {
            "summary": "Seed-compatible single metric", "security": _KEY,
            "requestBody": {"required": True, **_json("SeedMetric")},
            "responses": {"200": {"description": "stored", **_json({
                "type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}})},
                          **_errors(400, 401, 403, 413, 415, 429, 503)}}},
        "/api/telemetry/wasm/bulk": {"post": {
            "summary": "Seed-compatible bulk metrics", "security": _KEY,
            "requestBody": {"required": True, **_json("SeedBulk")},
            "responses": {"200": {"description": "counts", **_json("SeedResult")},
                          **_errors(400, 401, 403, 413, 415, 429, 503)}}},
        "/api/v1/summary": admin_get(
            "Counts, percentiles and rates over a window, the first-vs-cached load split, and "
            "the budgets from settings", [_WINDOW, *_RANGE, *_FILTERS,
                                          _query("exact", "true: raw rows only", None, _FLAG),
                                          _query("compare", "true: add the previous window",
                                                 None, _FLAG)]),
        "/api/v1/releases": admin_get(
            "Releases side by side, each against the previous one, flagged at the regression "
            "factor", [_query("window", "time window, 5m to 30d", "7d"), *_RANGE, *_FILTERS[1:]]),
        "/api/v1/series": admin_get("Time-bucketed stats for charts", [
            _WINDOW, *_RANGE,
            _query("metric", "what to chart", "operation", {"enum": list(SERIES_METRICS)}),
            _STEP, *_FILTERS]),
        "/api/v1/errors": admin_get("Errors grouped by fingerprint (merged by resolved top frame)",
                                    [_WINDOW, *_RANGE, *_FILTERS, _limit(500)]),
        "/api/v1/errors/state": {"post": {
            "summary": "Mark an error group resolved, ignored or open (kept in the store)",
            "security": _ADMIN, "requestBody": {"required": True, **_json({
                "type": "object", "required": ["fingerprint", "state"], "properties": {
                    "fingerprint": {"type": "string"},
                    "state": {"enum": ["open", "resolved", "ignored"]}}})},
            "responses": {"200": {"description": "the stored state", **_json(_OBJECT)},
                          **_errors(400, 401)}}},
        "/api/v1/insights": admin_get(
            "Load time against bounce, bandwidth cost, engagement and adoption",
            [_query("window", "time window, 5m to 30d", "24h"), *_RANGE, *_FILTERS[:2]]),
        "/api/v1/routes": admin_get(
            "The app server's routes: requests, failures, p50/p95/p99 ms, queries per request; "
            "and each service's newest process sample (memory, threads, CPU, GC)",
            [_query("window", "time window, 5m to 30d", "1h"), *_RANGE,
             _query("service", "only this app server")]),
        "/api/v1/linked": admin_get(
            "Client operations split into client, server and network time by trace id",
            [_query("window", "time window, 5m to 30d", "1h"), *_RANGE,
             _query("operation", "only this operation"), _limit(200)]),
        "/api/v1/session": admin_get("One session's items in time order, with offline periods",
                                     [_query("id", "the session id")]),
        "/api/v1/items": admin_get("The newest raw items", [
            _query("window", "how far back, 5m to 30d", "24h", _WINDOW_SCHEMA), _limit(10_000),
            *[_query(n, f"only this {n}") for n in ("type", "session", "release", "name", "id",
                                                   "trace_id")]]),
        "/api/v1/symbols": {
            **admin_get("Symbol files known for a project", [_query("project", "project id")]),
            "post": {"summary": "Upload a wasm module (name section, DWARF) to resolve wasm frames",
                     "security": _ADMIN,
                     "parameters": [_query(n, d) for n, d in (
                         ("release", "the release it was built for"), ("project", "project id"),
                         ("name", "file name"), ("url", "http(s) URL it is served from"))],
                     "requestBody": {"required": True, "content": {"application/wasm": {}}},
                     "responses": {"201": {"description": "stored", **_json(_OBJECT)},
                                   **_errors(400, 401, 413)}}},
        "/api/v1/stream": {"get": {"summary": "Server-sent events of live updates", "security": _ADMIN,
                                   "responses": {"200": {"description": "text/event-stream"},
                                                 **_errors(401)}}},
        "/api/v1/admin/log-levels": {
            **admin_get("Log level per module", []),
            "put": {"summary": "Change log levels at run time", "security": _ADMIN,
                    "requestBody": {"required": True, **_json({"type": "object",
                                    "additionalProperties": {"enum": list(LEVELS)}})},
                    "responses": {"200": {"description": "levels now", **_json(_OBJECT)},
                                  **_errors(400, 401)}}},
        "/metrics": {"get": {"summary": "Prometheus text exposition (Bearer metrics_token if set)",
                             "security": [{}, {"bearer": []}],
                             "responses": {"200": {"description": "text/plain; version=0.0.4"},
                                           **_errors(401, 429)}}},
        **admin.openapi_paths(),
        "/healthz": {"get": {"summary": "Liveness", "responses": {
            "200": {"description": "ok", **_json(_OBJECT)}}}},
        "/readyz": {"get": {"summary": "Readiness: the store takes writes", "responses": {
            "200": {"description": "ready", **_json(_OBJECT)},
            "503": {"description": "not ready; `failing` names each failed check",
                    **_json(_OBJECT)}}}},
        "/openapi.json": {"get": {"summary": "This document",
                                  "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        "/sdk/wasmwatch.js": {"get": {"summary": "The SDK as an ES module",
                                      "responses": {"200": {"description": "JavaScript"}}}},
        "/sdk/wasmwatch.iife.js": {"get": {"summary": "The SDK as a script (global WasmWatch)",
                                           "responses": {"200": {"description": "JavaScript"}}}},
        "/sdk/wasmwatch.worker.js": {"get": {
            "summary": "The worker build: global WasmWatch inside a worker (importScripts / import)",
            "responses": {"200": {"description": "JavaScript"}}}},
        "/sdk/wasmwatch.page-workers.js": {"get": {
            "summary": "Worker support, imported by the page's SDK after init() (ES module)",
            "responses": {"200": {"description": "JavaScript"}}}},
        "/dashboard": {"get": {"summary": "The dashboard (log in with #token=ADMIN_TOKEN)",
                               "responses": {"200": {"description": "HTML"}}}},
        "/dashboard/{asset}": {"get": {"summary": "The dashboard's scripts and styles",
                                       "parameters": [{"name": "asset", "in": "path", "required": True,
                                                       "schema": {"type": "string"}}],
                                       "responses": {"200": {"description": "JS or CSS"},
                                                     "404": {"description": "no such asset"}}}},
        "/demo/": {"get": {"summary": "The demo WASM app (when demo = true)",
                           "responses": {"200": {"description": "HTML"}, "404": {"description": "off"}}}},
    }


class ErrorResponse(msgspec.Struct, frozen=True):
    """Every 4xx and 5xx answer: what went wrong, naming the field or parameter."""

    error: str


# -- alerting (issue 7): kept in its own block ---------------------------------------------------

_ALERT = {"type": "object", "required": ["id", "rule", "labels", "severity", "state"], "properties": {
    "id": {"type": "string"}, "project": {"type": "string"}, "rule": {"type": "string"},
    "fingerprint": {"type": "string"},
    "labels": {"type": "object", "additionalProperties": {"type": "string"},
               "description": "alertname, severity and the rule's group_by labels"},
    "severity": {"enum": ["critical", "warning", "info"]},
    "state": {"enum": ["pending", "firing", "resolved"]},
    "value": {"type": ["number", "null"]}, "threshold": {"type": "number"},
    "started_at": {"type": "integer", "description": "epoch ms"},
    "fired_at": {"type": ["integer", "null"]}, "resolved_at": {"type": ["integer", "null"]},
    "description": {"type": "string"}, "notified_at": {"type": ["integer", "null"]},
    "flapping": {"type": "boolean"}, "silenced": {"type": "boolean"},
    "transitions": {"type": "array", "items": _OBJECT},
    "deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/DeliveryAttempt"}}}}
_ATTEMPT = {"type": "object", "properties": {
    "channel": {"type": "string"}, "kind": {"enum": ["firing", "repeat", "resolved", "test"]},
    "attempt": {"type": "integer"}, "at": {"type": "integer"},
    "outcome": {"enum": ["ok", "error", "timeout"]}, "error": {"type": ["string", "null"]},
    "duration_ms": {"type": "number"}}}
_SILENCE_IN = {"type": "object", "required": ["matchers"], "properties": {
    "matchers": {"oneOf": [{"type": "object", "additionalProperties": {"type": "string"}},
                           {"type": "array", "items": {"type": "object", "required": ["name", "value"],
                            "properties": {"name": {"type": "string"}, "value": {"type": "string"},
                                           "regex": {"type": "boolean"}}}}]},
    "starts_at": {"type": "integer"}, "ends_at": {"type": "integer"},
    "duration": {"type": "string", "example": "2h", "description": "instead of ends_at"},
    "comment": {"type": "string"}, "created_by": {"type": "string"}}}


def _alert_paths() -> dict[str, Any]:
    ok = {"description": "ok", **_json(_OBJECT)}
    return {
        "/api/v1/alerts": admin_get("Alerts and their transitions and deliveries, newest first", [
            _query("state", "pending, firing or resolved", None,
                   {"enum": ["pending", "firing", "resolved"]}),
            _query("rule", "a rule's name", None, {"type": "string", "minLength": 1}),
            _query("window", "how far back, 5m to 30d", "24h", _WINDOW_SCHEMA),
            _query("limit", "1 to 1000", None, {"type": "integer", "minimum": 1, "maximum": 1000})]),
        "/api/v1/alerts/test": {"post": {
            "summary": "Send a test alert to one configured channel", "security": _ADMIN,
            "requestBody": {"required": True, **_json({"type": "object", "required": ["channel"],
                            "properties": {"channel": {"enum": ["log", "webhook", "slack", "email"]}}})},
            "responses": {"200": {"description": "sent", **_json("DeliveryAttempt")},
                          "502": {"description": "the channel failed", **_json("DeliveryAttempt")},
                          **_errors(400, 401)}}},
        "/api/v1/rules": admin_get("Every rule with its current state and readings", []),
        "/api/v1/silences": {
            **admin_get("Silences, active and recently ended", []),
            "post": {"summary": "Silence alerts matching labels until an end time",
                     "security": _ADMIN, "requestBody": {"required": True, **_json("SilenceRequest")},
                     "responses": {"201": {"description": "created", **_json(_OBJECT)},
                                   **_errors(400, 401)}}},
        "/api/v1/silences/{id}": {"delete": {
            "summary": "End a silence now", "security": _ADMIN,
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": ok, **_errors(401, 404)}}},
    }


_ALERT_SCHEMAS = {"Alert": _ALERT, "DeliveryAttempt": _ATTEMPT, "SilenceRequest": _SILENCE_IN}

# -- end of alerting block ----------------------------------------------------------------------


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    (_, item, *_), components = msgspec.json.schema_components(
        [s.TypedEnvelope, s.Item, s.IngestResult, seed.SeedMetric, seed.SeedBulk, seed.SeedResult,
         ErrorResponse, *admin.SCHEMAS], ref_template="#/components/schemas/{name}")
    # the wire name of the batch is Envelope; the protocol allows 1 to 1000 items a batch
    components["Envelope"] = components.pop("TypedEnvelope") | {
        "title": "Envelope", "description": "A batch: shared context, items, and the client's "
        "own loss counts. A bad item is rejected alone in a 200 answer; the rest are kept."}
    components["Envelope"]["properties"]["items"]["maxItems"] = 1000
    components["Item"] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "wasmwatch", "version": __version__,
                 "description": "Telemetry and monitoring for WebAssembly web apps"},
        "paths": admin.with_project_param({**_paths(), **_alert_paths(), **otlp.openapi_paths(_KEY)}),
        "components": {"schemas": {**components, **_ALERT_SCHEMAS, **otlp.openapi_components()},
                       "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "ingestKey": {"type": "apiKey", "in": "query", "name": "key"},
            "ingestHeader": {"type": "apiKey", "in": "header", "name": "X-WasmWatch-Key"}}},
    }

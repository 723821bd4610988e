"""Ingest handlers: the SDK's batch endpoint and the seed-compatible pair."""

from __future__ import annotations

from typing import Any

import msgspec

from wasmwatch.errors import BadRequest, RateLimited, UnsupportedMediaType
from wasmwatch.ingest import schema as s
from wasmwatch.ingest import seed
from wasmwatch.ingest.ratelimit import take_all
from wasmwatch.ingest.validate import path_error
from wasmwatch.runtime import Runtime
from wasmwatch.store.duckdb import Project
from wasmwatch.store.schema import Row
from wasmwatch.telemetry import bus
from wasmwatch.web.http import Request, Response, gunzip, json_response

_envelope = msgspec.json.Decoder(s.Envelope)
_typed = msgspec.json.Decoder(s.TypedEnvelope)


def decode_envelope(body: bytes) -> s.Envelope | s.TypedEnvelope:
    """All items typed in one call when they all decode; else raw, to reject them one by one."""
    try:
        return _typed.decode(body)
    except msgspec.MsgspecError:
        return _envelope.decode(body)
_JSON_TYPES = ("application/json", "text/plain", "application/x-ndjson", "")
_ACCEPTED = ("wasmwatch", "ingest", "accepted")
_LOST = ("wasmwatch", "ingest", "lost")
_CLIENT_LOST = ("wasmwatch", "ingest", "client_lost")


def lost(reason: str, count: int) -> None:
    if count:
        bus.execute(_LOST, {"count": count}, {"reason": reason})


async def read_json_body(rt: Runtime, request: Request) -> bytes:
    """The body as JSON bytes: content type checked, size limited before and after gunzip."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype not in _JSON_TYPES:
        raise UnsupportedMediaType(f"content type {ctype!r} is not accepted; send application/json")
    limit = rt.settings.max_body_bytes
    body = await request.body(limit)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip" or body[:2] == b"\x1f\x8b":
        body = gunzip(body, limit)
    elif encoding not in ("identity", ""):
        raise UnsupportedMediaType(f"content encoding {encoding!r} is not accepted; use gzip")
    if not body.strip():
        raise BadRequest("body is empty; expected a JSON object")
    return body


def admit(rt: Runtime, request: Request, project: Project, n: int) -> None:
    """Charge ``n`` items to the project's and the key's rate limits and one request to the
    client address's, all or none; else refuse the request with 429 naming the limit."""
    key = request.query.get("key") or request.headers.get("x-wasmwatch-key") or ""
    s = rt.settings
    charges = ((rt.limiter, project.id, n), (rt.key_limiter, key, n),
               (rt.address_limiter, rt.client_address(request), 1))
    wait, which = take_all(charges, rt.clock.now_ms() / 1000)
    if wait > 0:
        lost("rate_limited", n)
        limit = (f"ingest rate limit of {s.rate_limit:g} items/s for this project",
                 f"ingest rate limit of {s.key_rate_limit:g} items/s for this key",
                 f"rate limit of {s.address_rate_limit:g} requests/s for this address")[which]
        raise RateLimited(f"{limit} reached", wait)


def decode_any(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body: malformed JSON: {exc}") from exc


async def store(rt: Runtime, project: Project, rows: list[Row]) -> int:
    """Commit the rows; count what was new as accepted and the rest as duplicates."""
    duplicates = await rt.writer.submit(rows)
    lost("duplicate", duplicates)
    bus.execute(_ACCEPTED, {"count": len(rows) - duplicates}, {"project": project.id})
    return duplicates


async def batch(rt: Runtime, request: Request) -> Response:
    project = rt.authorize_ingest(request)
    body = await read_json_body(rt, request)
    try:
        envelope = decode_envelope(body)
    except msgspec.DecodeError as exc:
        lost("malformed", 1)
        raise BadRequest(f"body: malformed JSON: {exc}") from exc
    except msgspec.ValidationError as exc:
        lost("malformed", 1)
        raise BadRequest(path_error("body", exc)) from exc
    items = envelope.items
    if len(items) > rt.settings.max_items_per_batch:
        lost("too_large", len(items))
        raise BadRequest(f"items: {len(items)} items is over the limit of "
                         f"{rt.settings.max_items_per_batch} per batch")
    admit(rt, request, project, len(items))
    if envelope.lost:
        for reason, count in envelope.lost.items():
            if isinstance(count, int) and count > 0:
                bus.execute(_CLIENT_LOST, {"count": count}, {"reason": reason[:32]})
    now = rt.clock.now_ms()
    ctx = rt.pipeline.batch(envelope.context, project=project.id,
                            user_agent=request.headers.get("user-agent"),
                            sent_at=envelope.sent_at, now_ms=now)
    rows, rejected, filtered = rt.pipeline.rows(items, ctx)
    lost("invalid", len(rejected))
    lost("filtered", filtered)
    duplicates = await store(rt, project, rows)
    return json_response(s.IngestResult(len(rows) - duplicates, rejected, duplicates))


async def seed_single(rt: Runtime, request: Request) -> Response:
    project = rt.authorize_ingest(request)
    body = await read_json_body(rt, request)
    metric = decode_any(body)
    admit(rt, request, project, 1)
    rows, errors = seed.rows([metric], rt, project.id, request.headers.get("user-agent"))
    if errors:
        lost("invalid", 1)
        return json_response({"error": errors[0]}, 400)
    await store(rt, project, rows)
    return json_response({"status": "ok"})


async def seed_bulk(rt: Runtime, request: Request) -> Response:
    project = rt.authorize_ingest(request)
    body = await read_json_body(rt, request)
    payload = decode_any(body)
    metrics = payload.get("metrics") if isinstance(payload, dict) else None
    if not isinstance(metrics, list):
        raise BadRequest("body: expected an object with a \"metrics\" array")
    if len(metrics) > rt.settings.max_items_per_batch:
        raise BadRequest(f"metrics: {len(metrics)} metrics is over the limit of "
                         f"{rt.settings.max_items_per_batch} per request")
    admit(rt, request, project, len(metrics))
    rows, errors = seed.rows(metrics, rt, project.id, request.headers.get("user-agent"))
    lost("invalid", len(errors))
    await store(rt, project, rows)
    return json_response({"success": len(rows), "errors": len(errors)})

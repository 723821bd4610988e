"""Ingest handlers: the SDK's batch endpoint and the seed-compatible pair."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from wasmwatch.errors import BadRequest, RateLimited, UnsupportedMediaType
from wasmwatch.ingest import schema as s
from wasmwatch.ingest import seed
from wasmwatch.ingest.columnar import Chunk
from wasmwatch.ingest.validate import path_error
from wasmwatch.runtime import Runtime
from wasmwatch.store.duckdb import Project
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


def admit(rt: Runtime, project: Project, n: int) -> None:
    """Charge ``n`` items to the project's rate limit, or refuse the request with 429."""
    wait = rt.limiter.take(project.id, n, rt.clock.now_ms() / 1000)
    if wait > 0:
        lost("rate_limited", n)
        raise RateLimited(f"ingest rate limit of {rt.settings.rate_limit:g} items/s reached", wait)


def decode_any(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body: malformed JSON: {exc}") from exc


async def store(rt: Runtime, project: Project, chunks: list[Chunk]) -> int:
    """Commit the chunks; count what was new as accepted and the rest as duplicates."""
    if len(chunks) == 1:
        duplicates = await rt.writer.submit(chunks[0])
    else:
        duplicates = sum(await asyncio.gather(*(rt.writer.submit(c) for c in chunks)))
    lost("duplicate", duplicates)
    n = sum(len(c.items) for c in chunks)
    bus.execute(_ACCEPTED, {"count": n - duplicates}, {"project": project.id})
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
    admit(rt, project, len(items))
    if envelope.lost:
        for reason, count in envelope.lost.items():
            if isinstance(count, int) and count > 0:
                bus.execute(_CLIENT_LOST, {"count": count}, {"reason": reason[:32]})
    now = rt.clock.now_ms()
    ctx = rt.pipeline.batch(envelope.context, project=project.id,
                            user_agent=request.headers.get("user-agent"),
                            sent_at=envelope.sent_at, now_ms=now)
    chunk, rejected = rt.pipeline.check(items, ctx, len(body),
                                        typed=isinstance(envelope, s.TypedEnvelope))
    lost("invalid", len(rejected))
    duplicates = await store(rt, project, [chunk])
    return json_response(s.IngestResult(len(chunk.items) - duplicates, rejected, duplicates))


async def seed_single(rt: Runtime, request: Request) -> Response:
    project = rt.authorize_ingest(request)
    body = await read_json_body(rt, request)
    metric = decode_any(body)
    admit(rt, project, 1)
    chunks, errors = seed.chunks([metric], rt.pipeline, project.id,
                                 request.headers.get("user-agent"), rt.clock.now_ms(), len(body))
    if errors:
        lost("invalid", 1)
        return json_response({"error": errors[0]}, 400)
    await store(rt, project, chunks)
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
    admit(rt, project, len(metrics))
    chunks, errors = seed.chunks(metrics, rt.pipeline, project.id,
                                 request.headers.get("user-agent"), rt.clock.now_ms(), len(body))
    lost("invalid", len(errors))
    await store(rt, project, chunks)
    return json_response({"success": sum(len(c.items) for c in chunks), "errors": len(errors)})

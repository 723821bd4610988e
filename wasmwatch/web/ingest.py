"""Ingest handlers: the SDK's batch endpoint and the seed-compatible pair.

Every refused request and every rejected item is counted on
``wasmwatch_items_lost_total{reason}`` (a request refused before its items were read counts
as one) and logged at INFO, at most :data:`LOG_PER_SECOND` lines a second per route and
reason, without the key or the client's data.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from wasmwatch.errors import (
    BadRequest,
    ClientError,
    Forbidden,
    PayloadTooLarge,
    QueueFull,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
)
from wasmwatch.ingest import schema as s
from wasmwatch.ingest import seed
from wasmwatch.ingest.columnar import Chunk
from wasmwatch.ingest.ratelimit import take_all
from wasmwatch.ingest.validate import path_error
from wasmwatch.runtime import Runtime
from wasmwatch.store.duckdb import Project
from wasmwatch.store.writer import held_for
from wasmwatch.telemetry import bus
from wasmwatch.telemetry.logs import RateLimiter as LogLimiter
from wasmwatch.web.http import Request, Response, gunzip, json_response

log = logging.getLogger(__name__)
NESTED = "JSON nested too deeply"
#: INFO lines per second per (route, reason) about refused requests and rejected items
LOG_PER_SECOND = 5
#: what SDKs report in an envelope's ``lost``; any other reason is counted as ``other``
CLIENT_LOSS_REASONS = frozenset(("invalid", "rate_limited", "queue_full", "offline_overflow"))
#: a report above this per reason and envelope is cut to it (the SDK keeps 5000 items offline)
MAX_CLIENT_LOST = 10_000
_REASONS: tuple[tuple[type[ClientError], str], ...] = (
    (Unauthorized, "unauthorized"), (Forbidden, "unauthorized"), (PayloadTooLarge, "too_large"),
    (RateLimited, "rate_limited"), (QueueFull, "queue_full"),
)
_log_limits: dict[tuple[str, str], LogLimiter] = {}

_envelope = msgspec.json.Decoder(s.Envelope)
_typed = msgspec.json.Decoder(s.TypedEnvelope)


def decode_envelope(body: bytes) -> s.Envelope | s.TypedEnvelope:
    """All items typed in one call when they all decode; else raw, to reject them one by one."""
    try:
        return _typed.decode(body)
    except msgspec.MsgspecError:
        return _envelope.decode(body)


class _Items(msgspec.Struct):
    items: list[msgspec.Raw] = []


class _Metrics(msgspec.Struct):
    metrics: list[msgspec.Raw] = []


#: the shortest JSON an item can be (``{"id":"a","ts":0,"type":"server_process"},``), and a
#: short seed metric: a body whose items at this size would fit is not counted (only an
#: estimate: the writer checks every body exactly)
_MIN_ITEM_CHARS = 40
_MIN_METRIC_CHARS = 16
_count_items = msgspec.json.Decoder(_Items)
_count_metrics = msgspec.json.Decoder(_Metrics)


async def queue_room(rt: Runtime, body: bytes, project: Project, seed_body: bool = False) -> None:
    """Wait up to ``queue_wait_s`` for the write queue to have room for a body, and refuse
    (503) one it still cannot hold before it is decoded and checked: the writer would refuse
    it after that work (:func:`~wasmwatch.store.writer.held_bytes`), and a client that sends
    again at once would have that work redone for every refusal (at 64 connections of
    1000-item bodies most of the event loop's time). Its items are counted by a scan that
    makes no objects (a fifth of the typed decode); a body that does not scan is left to the
    full decode, which names what is wrong."""
    writer = rt.writer
    most = len(body) // (_MIN_METRIC_CHARS if seed_body else _MIN_ITEM_CHARS)  # items at most
    if writer.has_room(held_for(len(body), most)):
        return
    try:
        n = (len(_count_metrics.decode(body).metrics) if seed_body
             else len(_count_items.decode(body).items))
    except (msgspec.MsgspecError, RecursionError):
        return
    need = held_for(len(body), n)
    if n and not await writer.wait_room(need, len(body), rt.settings.queue_wait_s):
        raise refuse(QueueFull(f"write queue full ({writer.queued_bytes} bytes waiting)",
                               retry_after_s=1), "queue_full", n, project.id)


_JSON_TYPES = ("application/json", "text/plain", "application/x-ndjson", "")
_ACCEPTED = ("wasmwatch", "ingest", "accepted")
_LOST = ("wasmwatch", "ingest", "lost")
_CLIENT_LOST = ("wasmwatch", "ingest", "client_lost")


def lost(reason: str, count: int) -> None:
    if count:
        bus.execute(_LOST, {"count": count}, {"reason": reason})


def refuse(exc: ClientError, reason: str, count: int, project: str | None = None) -> ClientError:
    """Count ``count`` items lost for ``reason`` now; ``exc`` is then not counted again."""
    lost(reason, count)
    exc.counted = True  # type: ignore[attr-defined]
    exc.project = project  # type: ignore[attr-defined]
    return exc


def reason_of(exc: ClientError) -> str:
    return next((reason for cls, reason in _REASONS if isinstance(exc, cls)), "malformed")


def log_info(rt: Runtime, route: str, reason: str, message: str, project: str | None) -> None:
    """One INFO line, unless ``(route, reason)`` has had its lines this second."""
    if not log.isEnabledFor(logging.INFO):
        return
    limiter = _log_limits.setdefault((route, reason), LogLimiter(LOG_PER_SECOND))
    admitted, dropped = limiter.admit(rt.clock.now_ms() / 1000)
    if admitted:
        log.info("%s on %s: %s", reason, route, rt.scrubber.redact(message)[:300],
                 extra={"route": route, "reason": reason, "project": project,
                        "suppressed": dropped})


Handler = Callable[[Runtime, Request], Awaitable[Response]]


def counted(handler: Handler) -> Handler:
    """Count and log every request the handler refuses."""
    @functools.wraps(handler)
    async def wrapped(rt: Runtime, request: Request) -> Response:
        try:
            return await handler(rt, request)
        except ClientError as exc:
            reason = reason_of(exc)
            if not getattr(exc, "counted", False):
                lost(reason, 1)
            log_info(rt, request.path, reason, f"{exc.status} {exc.message}",
                     getattr(exc, "project", None))
            raise
    return wrapped


def client_lost(report: dict[str, float], limit: int = MAX_CLIENT_LOST) -> None:
    """Count what an SDK says it dropped: known reasons only, each bounded to ``limit``."""
    for reason, value in report.items():
        if value == value and value >= 1:
            label = reason if reason in CLIENT_LOSS_REASONS else "other"
            bus.execute(_CLIENT_LOST, {"count": int(min(value, limit))}, {"reason": label})


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
    address = rt.client_address(request) if rt.address_limiter.enabled else ""
    charges = ((rt.limiter, project.id, n), (rt.key_limiter, key, n),
               (rt.address_limiter, address, 1))
    wait, which = take_all(charges, rt.clock.now_ms() / 1000)
    if wait > 0:
        limit = (f"ingest rate limit of {s.rate_limit:g} items/s for this project",
                 f"ingest rate limit of {s.key_rate_limit:g} items/s for this key",
                 f"rate limit of {s.address_rate_limit:g} requests/s for this address")[which]
        raise refuse(RateLimited(f"{limit} reached", wait), "rate_limited", n, project.id)


def decode_any(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body: malformed JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest(f"body: {NESTED}") from exc


async def store(rt: Runtime, project: Project, chunks: list[Chunk]) -> int:
    """Commit the chunks; count what was new as accepted and the rest as duplicates."""
    n = sum(len(c.items) for c in chunks)
    try:
        if len(chunks) == 1:
            duplicates = await rt.writer.submit(chunks[0])
        else:
            duplicates = sum(await asyncio.gather(*(rt.writer.submit(c) for c in chunks)))
    except QueueFull as exc:
        raise refuse(exc, "queue_full", n, project.id) from None
    lost("duplicate", duplicates)
    bus.execute(_ACCEPTED, {"count": n - duplicates}, {"project": project.id})
    return duplicates


@counted
async def batch(rt: Runtime, request: Request) -> Response:
    project = rt.authorize_ingest(request)
    body = await read_json_body(rt, request)
    await queue_room(rt, body, project)
    try:
        envelope = decode_envelope(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body: malformed JSON: {exc}") from exc
    except msgspec.ValidationError as exc:
        raise BadRequest(path_error("body", exc)) from exc
    except RecursionError as exc:
        raise BadRequest(f"body: {NESTED}") from exc
    items = envelope.items
    if len(items) > rt.settings.max_items_per_batch:
        raise refuse(BadRequest(f"items: {len(items)} items is over the limit of "
                                f"{rt.settings.max_items_per_batch} per batch"),
                     "too_large", len(items), project.id)
    admit(rt, request, project, len(items))
    if envelope.lost:
        client_lost(envelope.lost)
    now = rt.clock.now_ms()
    ctx = rt.pipeline.batch(envelope.context, project=project.id,
                            user_agent=request.headers.get("user-agent"),
                            sent_at=envelope.sent_at, now_ms=now)
    chunk, rejected = rt.pipeline.check(items, ctx, len(body),
                                        typed=isinstance(envelope, s.TypedEnvelope))
    lost("invalid", len(rejected))
    if rejected:
        log_info(rt, request.path, "invalid", f"{len(rejected)} of {len(items)} items rejected, "
                 f"first {rejected[0].error}", project.id)
    del body, envelope, items  # the chunk holds what is left to store (see writer.held_for)
    duplicates = await store(rt, project, [chunk])
    return json_response(s.IngestResult(len(chunk.items) - duplicates, rejected, duplicates))


@counted
async def seed_single(rt: Runtime, request: Request) -> Response:
    project = rt.authorize_ingest(request)
    body = await read_json_body(rt, request)
    metric = decode_any(body)
    admit(rt, request, project, 1)
    chunks, errors = seed.chunks([metric], rt.pipeline, project.id,
                                 request.headers.get("user-agent"), rt.clock.now_ms(), len(body))
    if errors:
        raise refuse(BadRequest(errors[0]), "invalid", 1, project.id)
    await store(rt, project, chunks)
    return json_response({"status": "ok"})


@counted
async def seed_bulk(rt: Runtime, request: Request) -> Response:
    project = rt.authorize_ingest(request)
    body = await read_json_body(rt, request)
    await queue_room(rt, body, project, seed_body=True)
    payload = decode_any(body)
    metrics = payload.get("metrics") if isinstance(payload, dict) else None
    if not isinstance(metrics, list):
        raise BadRequest("body: expected an object with a \"metrics\" array")
    if len(metrics) > rt.settings.max_items_per_batch:
        raise refuse(BadRequest(f"metrics: {len(metrics)} metrics is over the limit of "
                                f"{rt.settings.max_items_per_batch} per request"),
                     "too_large", len(metrics), project.id)
    admit(rt, request, project, len(metrics))
    chunks, errors = seed.chunks(metrics, rt.pipeline, project.id,
                                 request.headers.get("user-agent"), rt.clock.now_ms(), len(body))
    lost("invalid", len(errors))
    if errors:
        log_info(rt, request.path, "invalid", f"{len(errors)} of {len(metrics)} metrics "
                 f"rejected, first {errors[0]}", project.id)
    del body, payload, metrics  # the chunks hold what is left to store (see writer.held_for)
    await store(rt, project, chunks)
    return json_response({"success": sum(len(c.items) for c in chunks), "errors": len(errors)})

"""OTLP/HTTP receivers: ``POST /v1/traces``, ``/v1/metrics`` and ``/v1/logs``.

Bodies are OTLP JSON (``application/json``) or protobuf (``application/x-protobuf``, the
default of OpenTelemetry's exporters), plain, gzip or deflate; a body from
:data:`INLINE_BYTES` up is decoded, mapped and checked on a worker thread, off the event loop.
The answer is in the request's encoding: an ``Export<Signal>ServiceResponse`` whose
``partial_success`` counts what was rejected (and says why, for the first), and for a refused
request a ``google.rpc.Status`` (``{"code", "message"}`` in JSON) with the HTTP status of the
problem. Browser exporters get the CORS answers ingest gets (``wasmwatch.web.app``).

The project key comes as for ingest (``?key=`` or ``X-WasmWatch-Key``) or as
``Authorization: Bearer KEY``, so an exporter's ``headers`` setting carries it
(``OTEL_EXPORTER_OTLP_HEADERS=x-wasmwatch-key=pk_...``). Then the ingest path: rate limits,
validation, scrubbing, and a durable commit before the 2xx.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from wasmwatch.errors import BadRequest, ClientError, UnsupportedMediaType
from wasmwatch.ingest import otlp
from wasmwatch.runtime import Runtime
from wasmwatch.web.http import Request, Response, gunzip, json_response
from wasmwatch.web.ingest import admit, counted, log_info, lost, refuse, store

T = TypeVar("T")
PROTOBUF = "application/x-protobuf"
#: bodies (inflated) from this size are decoded and checked on a worker thread: at about
#: 70-100 µs a span (bench/RESULTS.md), 8 KiB is 2-6 ms of work, where a thread hop is noise
INLINE_BYTES = 8192
_PROTOBUF_TYPES = (PROTOBUF, "application/protobuf")
_JSON_TYPES = ("application/json", "")
#: signal -> the JSON name of its rejected count
_REJECTED: dict[otlp.wire.Signal, str] = {
    "traces": "rejectedSpans", "metrics": "rejectedDataPoints", "logs": "rejectedLogRecords"}

#: HTTP status -> google.rpc.Code
_RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 408: 4, 413: 3, 415: 3, 429: 8, 503: 14}


def is_protobuf(request: Request) -> bool:
    return _content_type(request) in _PROTOBUF_TYPES


def _content_type(request: Request) -> str:
    return str(request.headers.get("content-type", "")).split(";", 1)[0].strip().lower()


def bearer_as_key(request: Request) -> None:
    """``Authorization: Bearer KEY`` stands for ``X-WasmWatch-Key`` when neither key form is
    there (so the rate limits and the key check read it the same way)."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and not request.query.get("key") \
            and "x-wasmwatch-key" not in request.headers:
        request.headers["x-wasmwatch-key"] = auth[7:].strip()


async def read_body(rt: Runtime, request: Request) -> bytes:
    """The body: size limited before and after inflating gzip or deflate."""
    if _content_type(request) not in (*_PROTOBUF_TYPES, *_JSON_TYPES):
        raise UnsupportedMediaType(f"content type {_content_type(request)!r} is not accepted; "
                                   f"send application/json or {PROTOBUF}")
    limit = rt.settings.max_body_bytes
    body = await request.body(limit)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("gzip", "deflate"):
        body = gunzip(body, limit)
    elif encoding not in ("identity", ""):
        raise UnsupportedMediaType(f"content encoding {encoding!r} is not accepted; "
                                   "use gzip or deflate")
    return body


def decode(signal: otlp.wire.Signal, body: bytes,
           protobuf: bool) -> tuple[otlp.wire.Request, list[otlp.common.Mapped]]:
    """The typed request and its items; a malformed body is a 400 naming the problem."""
    try:
        decoded = otlp.decode(signal, body, protobuf)
    except otlp.wire.WireError as exc:
        raise BadRequest(str(exc)) from exc
    return decoded, otlp.items(signal, decoded)


async def off_loop(nbytes: int, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)``: inline for a body under :data:`INLINE_BYTES` (a few ms at most), else
    on a worker thread, so a big export's decoding and checking never holds up the event loop
    (exceptions, such as a 400 for a bad body, come back unchanged)."""
    if nbytes < INLINE_BYTES:
        return work(*args)
    return await asyncio.to_thread(work, *args)


def answer(signal: otlp.wire.Signal, export: otlp.Export, protobuf: bool) -> Response:
    """``Export<Signal>ServiceResponse``: partial success when something was rejected or left
    out (the message then says what)."""
    message = export.first_error
    if export.left_out:
        note = f"{export.left_out} log records below ERROR severity are not stored"
        message = f"{message}; {note}" if message else note
    field = _REJECTED[signal]
    if protobuf:
        from wasmwatch.ingest.otlp import proto  # imported on the first protobuf body

        response, partial = proto.RESPONSES[signal]
        out = response()
        if message:
            out = response(partial_success=partial(**{_snake(field): export.rejected},
                                                   error_message=message))
        return Response(out.SerializeToString(), 200, content_type=PROTOBUF)
    body: dict[str, Any] = {}
    if message:  # int64 as a string, as the OTLP JSON mapping has it
        body["partialSuccess"] = {field: str(export.rejected), "errorMessage": message}
    return json_response(body)


def status_response(exc: ClientError, protobuf: bool) -> Response:
    """A refused request as OTLP has it: ``google.rpc.Status``, with the same HTTP status."""
    code = _RPC_CODES.get(exc.status, 2)
    if protobuf:
        from wasmwatch.ingest.otlp import proto

        return Response(proto.status(code, exc.message), exc.status, exc.headers, PROTOBUF)
    return json_response({"code": code, "message": exc.message}, exc.status, exc.headers)


def _snake(camel: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in camel)


def _receiver(signal: otlp.wire.Signal) -> Callable[[Runtime, Request], Awaitable[Response]]:
    @counted
    async def export(rt: Runtime, request: Request) -> Response:
        bearer_as_key(request)
        project = rt.authorize_ingest(request)
        body = await read_body(rt, request)
        protobuf = is_protobuf(request)
        decoded, mapped = await off_loop(len(body), decode, signal, body, protobuf)
        limit = rt.settings.max_items_per_batch
        if len(mapped) > limit:
            raise refuse(BadRequest(f"{len(mapped)} items is over the limit of {limit} per "
                                    "request; export smaller batches (max_export_batch_size)"),
                         "too_large", len(mapped), project.id)
        admit(rt, request, project, len(mapped))
        result = await off_loop(len(body), otlp.chunks, signal, decoded, mapped, rt.pipeline,
                                project.id, rt.clock.now_ms(), len(body))
        lost("invalid", result.rejected)
        if result.first_error:
            log_info(rt, request.path, "invalid", f"{result.rejected} of {len(mapped)} items "
                     f"rejected, first {result.first_error}", project.id)
        await store(rt, project, result.chunks)
        return answer(signal, result, protobuf)

    async def receive(rt: Runtime, request: Request) -> Response:
        try:
            return await export(rt, request)
        except ClientError as exc:
            return status_response(exc, is_protobuf(request))

    receive.__name__ = receive.__qualname__ = signal
    return receive


traces = _receiver("traces")
metrics = _receiver("metrics")
logs = _receiver("logs")


# -- OpenAPI ------------------------------------------------------------------------------------

#: OTLP JSON carries 64-bit integers as decimal strings (plain numbers are taken too)
_INT64_FIELDS = frozenset(("timeUnixNano", "startTimeUnixNano", "endTimeUnixNano",
                           "observedTimeUnixNano", "intValue", "asInt", "count"))
_INT64 = {"anyOf": [{"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
                    {"type": "string", "pattern": r"^-?(?:0|[1-9][0-9]{0,17})$"}]}
_INT32 = {"minimum": -(2**31), "maximum": 2**31 - 1}
_RPC_STATUS = {"type": "object", "description": "google.rpc.Status", "required": ["code", "message"],
               "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}}


def _wire_int(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An integer property as the wire has it: int64 as number or string, enums int32."""
    if schema.get("type") == "integer":
        rest = {k: v for k, v in schema.items() if k != "type"}
        return {**_INT64, **rest} if name in _INT64_FIELDS else {**schema, **_INT32}
    if "anyOf" in schema:
        return {**schema, "anyOf": [_wire_int(name, s) for s in schema["anyOf"]]}
    return schema


def openapi_components() -> dict[str, Any]:
    """The request bodies' schemas (from :mod:`wasmwatch.ingest.otlp.wire`), names prefixed."""
    _, components = msgspec.json.schema_components(
        [otlp.wire.TracesRequest, otlp.wire.MetricsRequest, otlp.wire.LogsRequest],
        ref_template="#/components/schemas/Otlp{name}")
    out: dict[str, Any] = {"RpcStatus": _RPC_STATUS}
    for name, schema in components.items():
        props = schema.get("properties", {})
        out[f"Otlp{name}"] = {**schema, "properties": {k: _wire_int(k, v) for k, v in props.items()}}
    return out


def openapi_paths(security: list[dict[str, list[str]]]) -> dict[str, Any]:
    """POST /v1/traces, /v1/metrics and /v1/logs."""
    errors = {str(code): {"description": why, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/RpcStatus"}},
        PROTOBUF: {"schema": {"type": "string", "format": "binary"}}}}
        for code, why in ((400, "malformed body, named in the message"), (401, "missing or unknown key"),
                          (403, "origin not allowed"), (413, "body too large"),
                          (415, "unsupported content type or encoding"), (429, "rate limited (Retry-After)"),
                          (503, "write queue full or store unavailable (Retry-After)"))}
    paths: dict[str, Any] = {}
    for signal, field in _REJECTED.items():
        request = f"Otlp{signal.title()}Request"
        partial = {"type": "object", "properties": {field: {"type": "string", "pattern": "^[0-9]+$"},
                                                    "errorMessage": {"type": "string"}}}
        paths[f"/v1/{signal}"] = {"post": {
            "summary": f"OTLP/HTTP {signal} export (OpenTelemetry exporters)", "security": security,
            "description": f"The OTLP JSON mapping as below, or protobuf (Content-Type {PROTOBUF}: "
                           f"Export{otlp.wire.MESSAGE_NAMES[signal]}ServiceRequest, answered in "
                           "protobuf); gzip or deflate. The key may also come as Authorization: "
                           "Bearer KEY. See docs/protocol.md for how spans, metrics and logs "
                           "become items.",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{request}"}}}},
            "responses": {"200": {"description": "the accepted items are durably stored; "
                                  "partialSuccess counts what was rejected, and why", "content": {
                "application/json": {"schema": {"type": "object", "properties": {"partialSuccess": partial}}},
                PROTOBUF: {"schema": {"type": "string", "format": "binary"}}}}, **errors}}}
    return paths

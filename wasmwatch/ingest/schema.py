"""The wire schema: what the SDK sends, as typed, immutable values.

One ``msgspec.Struct`` per item type, tagged by ``type``; decoding a whole batch checks, in one C
call, field types, id patterns and the ranges a type can state (counts are ``0..2**62``, visible
time ``>= 0``, at most 16 tags; JSON cannot carry NaN or infinities and numbers out of float range
are refused). Clamping, truncation and derived columns are applied to whole columns afterwards
(:mod:`wasmwatch.ingest.columnar`). See ``docs/protocol.md`` for the contract.

The items are mutable only so that ingest can fill the fields it derives itself (``frame``,
``fingerprint`` of errors, ``tags_json`` of measurements); a client sending them is overwritten.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

ID_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
#: the pattern is stated in the JSON schema, and checked by the pipeline for a whole batch at once
#: (:func:`wasmwatch.ingest.validate.ids_valid`, one regex over the joined ids): msgspec checks a
#: ``pattern`` with one Python regex call per item, which cost 0.6-1.1 µs of a 1.5-2 µs decode
ItemId = Annotated[str, msgspec.Meta(min_length=1, max_length=64,
                                     extra_json_schema={"pattern": ID_PATTERN})]
MAX_TAGS = 16
MAX_COUNT = 2.0**62
#: a count: whole or not, it must be 0..2**62 (it is truncated to an integer when stored)
Count = Annotated[float, msgspec.Meta(ge=0, le=MAX_COUNT)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Tags = Annotated[dict[str, str | int | float | bool], msgspec.Meta(max_length=MAX_TAGS)]
#: W3C trace context ids, lowercase hex as ``traceparent`` carries them (stored lowercased)
TraceId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{32}$")]
SpanId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{16}$")]
HttpStatus = Annotated[int, msgspec.Meta(ge=100, le=599)]

ITEM_TYPES = (
    "bundle_load",
    "runtime_init",
    "operation",
    "error",
    "memory",
    "engagement",
    "feature",
    "offline_sync",
    "measurement",
    "server_request",
    "server_span",
    "server_process",
)
SPAN_KINDS = ("query", "span", "execute")
ERROR_CATEGORIES = ("critical", "runtime", "application")
ErrorCategory = Literal["critical", "runtime", "application"]


class _Item(msgspec.Struct, tag_field="type", forbid_unknown_fields=False, gc=False):
    id: ItemId
    ts: float


class BundleLoad(_Item, tag="bundle_load"):
    total_ms: float
    url: str | None = None
    transfer_bytes: Count | None = None
    decoded_bytes: Count | None = None
    cached: bool | None = None
    streaming: bool | None = None
    fetch_ms: float | None = None
    compile_ms: float | None = None
    instantiate_ms: float | None = None


class RuntimeInit(_Item, tag="runtime_init"):
    ms: float


class Operation(_Item, tag="operation"):
    name: str
    ms: float
    ok: bool = True
    offline: bool = False
    expected_ms: float | None = None
    #: the W3C trace id the SDK put in ``traceparent`` of the fetches made inside ``track()``
    trace_id: TraceId | None = None


class Error(_Item, tag="error"):
    kind: str
    category: ErrorCategory = "application"
    message: str = ""
    stack: str | None = None
    operation: str | None = None
    memory_bytes: Count | None = None
    frame: str | None = None  # derived by ingest
    fingerprint: str = ""  # derived by ingest


class Memory(_Item, tag="memory"):
    wasm_bytes: Count
    js_heap_bytes: Count | None = None
    grow_count: Count | None = None
    gc_count: Count | None = None
    gc_ms: float | None = None


class Engagement(_Item, tag="engagement"):
    visible_ms: NonNegative
    online: bool = True
    page: str | None = None


class Feature(_Item, tag="feature"):
    name: str


class OfflineSync(_Item, tag="offline_sync"):
    synced: Count
    ms: float | None = None
    conflicts: Count | None = None
    ok: bool = True
    pending: Count | None = None


class Measurement(_Item, tag="measurement"):
    name: str
    value: float
    unit: str | None = None
    tags: Tags | None = None
    tags_json: str | None = None  # derived by ingest


class ServerRequest(_Item, tag="server_request"):
    """One HTTP request handled by the app's own server (``wasmwatch.client`` middleware, OTLP)."""

    route: str
    method: str
    status: HttpStatus
    ms: float
    trace_id: TraceId | None = None
    span_id: SpanId | None = None
    parent_span_id: SpanId | None = None
    service: str | None = None
    ok: bool | None = None  # derived by ingest when absent: status < 500
    #: the browser session that made the request (header ``X-WasmWatch-Session``)
    session: str | None = None


class ServerSpan(_Item, tag="server_span"):
    """A timed piece of server work: a database query, a custom span, an ``execute`` event."""

    name: str
    ms: float
    kind: Literal["query", "span", "execute"] = "span"
    trace_id: TraceId | None = None
    span_id: SpanId | None = None
    parent_span_id: SpanId | None = None
    service: str | None = None
    ok: bool = True
    statement: str | None = None
    tags: Tags | None = None
    tags_json: str | None = None  # derived by ingest


class ServerProcess(_Item, tag="server_process"):
    """The app server's process, as the client's own poller sees it."""

    service: str | None = None
    rss_bytes: Count | None = None
    cpu_s: NonNegative | None = None
    threads: Count | None = None
    gc_count: Count | None = None
    gc_ms: NonNegative | None = None


Item = (
    BundleLoad
    | RuntimeInit
    | Operation
    | Error
    | Memory
    | Engagement
    | Feature
    | OfflineSync
    | Measurement
    | ServerRequest
    | ServerSpan
    | ServerProcess
)


class Context(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    session: str | None = None
    release: str | None = None
    page: str | None = None
    connection: str | None = None
    device: str | None = None
    online: bool | None = None
    sdk: str | None = None
    user_agent: str | None = None
    #: the app server's name (server items: the batch's default for items without ``service``)
    service: str | None = None


class Envelope(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """The batch as sent; items stay raw so that one bad item is rejected alone."""

    items: Annotated[list[msgspec.Raw], msgspec.Meta(min_length=1)]
    sent_at: float | None = None
    context: Context = Context()
    #: items the client dropped, by reason; any number is taken (and bounded when counted)
    lost: dict[str, float] | None = None


class TypedEnvelope(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """The same batch decoded in one call, for the common case where every item is valid."""

    items: Annotated[list[Item], msgspec.Meta(min_length=1)]
    sent_at: float | None = None
    context: Context = Context()
    #: items the client dropped, by reason; any number is taken (and bounded when counted)
    lost: dict[str, float] | None = None


class Rejection(msgspec.Struct, frozen=True):
    index: int
    error: str


class IngestResult(msgspec.Struct, frozen=True):
    accepted: int
    rejected: list[Rejection]
    duplicates: int

"""The wire schema: what the SDK sends, as typed, immutable values.

One ``msgspec.Struct`` per item type, tagged by ``type``; decoding an item validates its field
types in C. Ranges, clamping, truncation and finiteness are checked afterwards in
:mod:`wasmwatch.ingest.validate`, which turns an item into a storage :class:`~wasmwatch.store.
schema.Row`. See ``docs/protocol.md`` for the contract.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

ItemId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Tags = dict[str, str | int | float | bool]

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
)
ERROR_CATEGORIES = ("critical", "runtime", "application")
ErrorCategory = Literal["critical", "runtime", "application"]


class _Item(msgspec.Struct, frozen=True, tag_field="type", forbid_unknown_fields=False):
    id: ItemId
    ts: float


class BundleLoad(_Item, frozen=True, tag="bundle_load"):
    total_ms: float
    url: str | None = None
    transfer_bytes: float | None = None
    decoded_bytes: float | None = None
    cached: bool | None = None
    streaming: bool | None = None
    fetch_ms: float | None = None
    compile_ms: float | None = None
    instantiate_ms: float | None = None


class RuntimeInit(_Item, frozen=True, tag="runtime_init"):
    ms: float


class Operation(_Item, frozen=True, tag="operation"):
    name: str
    ms: float
    ok: bool = True
    offline: bool = False
    expected_ms: float | None = None


class Error(_Item, frozen=True, tag="error"):
    kind: str
    category: ErrorCategory = "application"
    message: str = ""
    stack: str | None = None
    operation: str | None = None
    memory_bytes: float | None = None


class Memory(_Item, frozen=True, tag="memory"):
    wasm_bytes: float
    js_heap_bytes: float | None = None
    grow_count: float | None = None
    gc_count: float | None = None
    gc_ms: float | None = None


class Engagement(_Item, frozen=True, tag="engagement"):
    visible_ms: float
    online: bool = True
    page: str | None = None


class Feature(_Item, frozen=True, tag="feature"):
    name: str


class OfflineSync(_Item, frozen=True, tag="offline_sync"):
    synced: float
    ms: float | None = None
    conflicts: float | None = None
    ok: bool = True
    pending: float | None = None


class Measurement(_Item, frozen=True, tag="measurement"):
    name: str
    value: float
    unit: str | None = None
    tags: Tags | None = None


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

"""What the three OTLP signals share: attributes, resources, ids and times."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import msgspec

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.otlp import wire

#: attributes that become no tag: raw URLs and query text (kept out, or read apart)
_NOT_TAGS = frozenset(("url.full", "url.query", "url.path", "http.url", "http.target",
                       "db.statement", "db.query.text", "exception.stacktrace",
                       "exception.message", "http.request.header.x-wasmwatch-session"))
_encode = msgspec.json.Encoder(order="sorted")
Scalar = str | int | float | bool
_SCALARS = (str, int, float, bool)


class Refused(ValueError):
    """One span, point or record cannot become an item; the message names the field."""


class Origin(NamedTuple):
    """Where a resource's items come from: the batch context they share."""

    service: str | None
    context: s.Context


#: (origin, where in the body, the item or the reason it could not be made)
Mapped = tuple[Origin, str, "dict[str, Any] | str"]


def attempt(make: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any] | str:
    """``make(*args)``, or the reason it refused."""
    try:
        return make(*args)
    except Refused as exc:
        return str(exc)


def value_of(v: wire.AnyValue | None) -> Any:
    """An attribute's value as plain Python (lists and dicts for arrays and kvlists)."""
    if v is None:
        return None
    for scalar in (v.string_value, v.bool_value, v.int_value, v.double_value, v.bytes_value):
        if scalar is not None:
            return scalar
    if v.array_value is not None:
        return [value_of(x) for x in v.array_value.values]
    if v.kvlist_value is not None:
        return {kv.key: value_of(kv.value) for kv in v.kvlist_value.values}
    return None


def attributes(kvs: Iterable[wire.KeyValue]) -> dict[str, Any]:
    return {kv.key: value_of(kv.value) for kv in kvs}


def text(attrs: dict[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` that holds a non-empty value, as a string (the first element of
    an array: captured headers are arrays)."""
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None and value != "" and not isinstance(value, dict):
            return str(value)
    return None


def integer(attrs: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def tags(attrs: dict[str, Any], skip: Iterable[str] = ()) -> dict[str, Scalar] | None:
    """Scalar attributes as tags, at most :data:`~wasmwatch.ingest.schema.MAX_TAGS` (in key
    order); raw URLs, statements, stacks and the session header are left out."""
    left_out = _NOT_TAGS.union(skip) if skip else _NOT_TAGS
    kept: dict[str, Scalar] = {}
    for key in sorted(attrs):
        value = attrs[key]
        if key not in left_out and isinstance(value, _SCALARS):
            kept[key] = value
            if len(kept) == s.MAX_TAGS:
                break
    return kept or None


def origin(resource: wire.Resource) -> Origin:
    attrs = attributes(resource.attributes)
    service = text(attrs, "service.name")
    release = text(attrs, "service.version")
    return Origin(service, s.Context(service=service, release=release, sdk="otlp"))


def ms(nanos: int) -> float:
    return nanos / 1e6


def trace_id(value: str) -> str | None:
    """A trace or span id as hex, or None when absent (empty, or all zeros: invalid in W3C)."""
    return value.lower() if value.strip("0") else None


def content_id(prefix: str, *parts: Any) -> str:
    """An item id made from content, so that an export retried is stored once."""
    digest = hashlib.blake2b(_encode.encode(parts), digest_size=12).hexdigest()
    return f"otlp.{prefix}.{digest}"

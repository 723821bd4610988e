"""Naming why an item was rejected, in our words, from msgspec's messages and our own checks.

The common path checks a whole batch in one typed decode (:mod:`wasmwatch.ingest.schema`), a
min/max of its timestamps and one regex over its ids (:func:`ids_valid`); the rest of this
module names the reasons of the items that fail.
"""

from __future__ import annotations

import re

import msgspec

from wasmwatch.ingest import schema as s

_ID = re.compile(s.ID_PATTERN).match
#: a batch's ids joined by newlines (which no valid id holds), valid as a whole
_IDS = re.compile(r"[A-Za-z0-9_.:\-]+(?:\n[A-Za-z0-9_.:\-]+)*").fullmatch
_FIELD_AT = re.compile(r" - at `\$\.?(.*)`$")
_COUNTS = frozenset({"transfer_bytes", "decoded_bytes", "memory_bytes", "wasm_bytes",
                     "js_heap_bytes", "grow_count", "gc_count", "synced", "conflicts", "pending"})


class ItemError(ValueError):
    """One item is invalid; the message names the field."""


def _constraint(path: str, reason: str) -> str:
    if reason.startswith("Expected `float` >="):
        return "must be a finite number >= 0" if path in _COUNTS else "must be a number >= 0"
    if reason.startswith("Expected `float` <="):
        return "too large"
    if path == "tags" and "length <=" in reason:
        return f"at most {s.MAX_TAGS} tags"
    return reason


def describe(exc: msgspec.MsgspecError) -> tuple[str, str]:
    """Split a msgspec message into (field path, reason) in our words."""
    text = str(exc)
    match = _FIELD_AT.search(text)
    path = match.group(1) if match else ""
    reason = text[: match.start()] if match else text
    if path == "type" and reason.startswith("Invalid value"):
        reason = f"unknown type {reason[len('Invalid value ') :]} (expected one of {', '.join(s.ITEM_TYPES)})"
    elif reason.startswith("Object missing required field"):
        reason = "missing required field " + reason.rsplit(" ", 1)[-1]
    elif reason == "Number out of range":
        reason = "number out of range (NaN and infinities are not accepted)"
    else:
        reason = _constraint(path, reason)
    return path, reason[:1].lower() + reason[1:]


def path_error(prefix: str, exc: msgspec.MsgspecError) -> str:
    path, reason = describe(exc)
    where = f"{prefix}.{path}" if path else prefix
    return f"{where}: {reason}"


def ts_error(ts: int, min_ts: int, max_ts: int) -> str | None:
    """Why a corrected timestamp is refused, or None."""
    if ts < min_ts:
        return "ts: older than the retention period"
    if ts > max_ts:
        return "ts: more than a day in the future"
    return None


def ids_valid(ids: list[str]) -> bool:
    """Every id matches :data:`~wasmwatch.ingest.schema.ID_PATTERN`: one regex call for the
    batch (an id holding a newline makes the count of lines differ, so it fails too)."""
    joined = "\n".join(ids)
    return _IDS(joined) is not None and joined.count("\n") == len(ids) - 1


def id_error(item_id: str) -> str | None:
    """Why an id is refused (msgspec's words for a pattern), or None."""
    return None if _ID(item_id) else f"id: expected `str` matching regex {s.ID_PATTERN!r}"

"""Error grouping: kind + normalized message + top wasm frame, hashed."""

from __future__ import annotations

import hashlib
import re

# Chromium: "at name (wasm://wasm/6d7c9f1e:wasm-function[3]:0x5c)" or "at wasm://...";
# Firefox: "name@http://host/m.wasm:wasm-function[3]:0x5c";
# WebKit: "name@<?>:wasm-function[3]" (no offset; the index stands in for a missing name).
_WASM_FRAME = re.compile(
    r"(?:at\s+(?P<name1>[^\s(]+)\s+\(|(?P<name2>[^\s@(]*)@)?"
    r"[^\s()]*?wasm-function\[(?P<index>\d+)\](?::(?P<offset>0x[0-9a-fA-F]+))?"
)
_NORMALIZERS = (
    (re.compile(r"0x[0-9a-fA-F]+"), "<hex>"),
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"), "<uuid>"),
    (re.compile(r"(['\"`]).*?\1"), "<str>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)


def top_wasm_frame(stack: str | None) -> str | None:
    """The first wasm frame of a stack, as ``name wasm-function[i]:0xoff`` (name may be empty;
    ``:0xoff`` too, for WebKit, which prints no offset)."""
    if not stack or "wasm-function[" not in stack:
        return None
    for line in stack.splitlines():
        match = _WASM_FRAME.search(line)
        if match:
            name = match.group("name1") or match.group("name2") or ""
            name = "" if name.isdigit() else name
            offset = match.group("offset")
            frame = f"wasm-function[{match.group('index')}]" + (f":{offset}" if offset else "")
            return f"{name} {frame}".strip()
    return None


def normalize_message(message: str) -> str:
    text = message[:512]
    for pattern, replacement in _NORMALIZERS:
        text = pattern.sub(replacement, text)
    return text.strip()


def fingerprint(kind: str, message: str, frame: str | None) -> str:
    """Stable group key; the frame's byte offset is kept out, its function index kept in."""
    where = frame.rsplit(":", 1)[0] if frame else ""
    key = f"{kind}\x1f{normalize_message(message)}\x1f{where}"
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()

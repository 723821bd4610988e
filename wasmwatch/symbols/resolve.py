"""Resolution on read: wasm frames (function index, module offset) to function names and source
lines, and error groups merged by their resolved top frame.

Stored errors keep their raw stack; each read resolves it against the symbol files known now, so
an upload made after the errors improves them. A frame's module is found by its URL (a module
fetched or uploaded with one), through its code section hash or build id to a debug build; else
by the error's release (the file of the URL's name, or the only module of the release).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from typing import Any

from wasmwatch.ingest.fingerprint import normalize_message
from wasmwatch.symbols.store import SymbolFile, SymbolStore

__all__ = ["Resolver", "parse_frames", "regroup"]

Json = dict[str, Any]
# Chromium "at name (URL:wasm-function[3]:0x5c)" / "at URL:wasm-function[3]:0x5c";
# Firefox "name@URL:wasm-function[3]:0x5c"
_FRAME = re.compile(
    r"(?:at\s+(?:(?P<fn>[^\s(]+)\s+\()?|(?P<fn2>[^\s@(]*)@)?(?P<url>[^\s()@]*?):?"
    r"wasm-function\[(?P<index>\d+)\]:(?P<offset>0x[0-9a-fA-F]+)"
)
_MAX_FRAMES = 64
Fetch = Callable[[str, str, str | None], None]


def parse_frames(stack: str | None) -> list[Json]:
    """The wasm frames of a stack, innermost first: {fn, url, index, offset}."""
    frames: list[Json] = []
    for line in (stack or "").splitlines():
        m = _FRAME.search(line)
        if m:
            fn = m.group("fn") or m.group("fn2") or None
            frames.append({"fn": None if fn and fn.startswith("wasm-function") else fn,
                           "url": m.group("url") or None, "index": int(m.group("index")),
                           "offset": m.group("offset")})
            if len(frames) >= _MAX_FRAMES:
                break
    return frames


def _web(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("http://", "https://"))


class Resolver:
    """Resolves the frames of one project's errors (memoized per module for one read)."""

    def __init__(self, store: SymbolStore, project: str, fetch: Fetch | None = None) -> None:
        self.store = store
        self.project = project
        self.fetch = fetch
        self._memo: dict[tuple[str | None, str | None], tuple[SymbolFile | None, int | None]] = {}

    def _debug_build(self, module: SymbolFile) -> SymbolFile:
        """The file with the most symbols for a module: itself, or a build with its code."""
        same = self.store.by_build_id(self.project, module.build_id) if module.build_id else []
        same += self.store.by_code(self.project, module.code_hash) if module.code_hash else []
        best = max([module, *same], key=lambda f: (f.lines != "[]", f.functions != "{}"))
        return best

    def _by_release(self, url: str | None, release: str | None) -> SymbolFile | None:
        files = [f for f in self.store.for_release(self.project, release) if f.has_symbols] \
            if release else []
        name = posixpath.basename(url.split("?")[0]) if _web(url) and url else None
        named = [f for f in files if name and f.name == name]
        if named:
            return named[0]
        if len({f.code_hash for f in files}) == 1:
            return files[0]
        return None

    def module(self, url: str | None, release: str | None) -> tuple[SymbolFile | None, int | None]:
        """(the file to resolve with, the code section offset of the module that ran)."""
        key = (url, release)
        if key not in self._memo:
            found: tuple[SymbolFile | None, int | None] = (None, None)
            known = self.store.by_url(self.project, url) if _web(url) and url else []
            best = self._debug_build(known[0]) if known else None
            if best is not None and best.has_symbols:
                found = (best, known[0].code_start)
            else:
                debug = self._by_release(url, release)
                if debug is not None:
                    found = (debug, known[0].code_start if known else debug.code_start)
                if not known and _web(url) and url and self.fetch is not None:
                    self.fetch(self.project, url, release)
            self._memo[key] = found
        return self._memo[key]

    def frames(self, stack: str | None, release: str | None) -> list[Json]:
        out = []
        for frame in parse_frames(stack):
            debug, code_start = self.module(frame["url"], release)
            resolved: Json = {"function": None, "file": None, "line": None}
            if debug is not None:
                resolved["function"] = debug.function(frame["index"])
                if code_start is not None:
                    where = debug.line(int(frame["offset"], 16) - code_start)
                    if where:
                        resolved["file"], resolved["line"] = where
                resolved["symbols"] = debug.content_hash
            out.append({**frame, **resolved})
        return out


def _top(frames: list[Json]) -> str | None:
    """The resolved top frame as text: ``function (file:line)``, or None when unresolved."""
    if not frames or not frames[0]["function"]:
        return None
    f = frames[0]
    return str(f["function"]) + (f" ({f['file']}:{f['line']})" if f["file"] else "")


def _merge(into: Json, g: Json) -> None:
    into["count"] += g["count"]
    into["sessions"] += g["sessions"]  # an upper bound once groups merge
    into["first_seen"] = min(into["first_seen"], g["first_seen"])
    if g["last_seen"] > into["last_seen"]:
        for k in ("last_seen", "message", "stack", "frame", "operation", "frames", "resolved_frame"):
            into[k] = g[k]
    into["releases"] = sorted(set(into["releases"] or []) | set(g["releases"] or []))
    into["fingerprints"].append(g["fingerprint"])


def regroup(result: Json, resolver: Resolver) -> Json:
    """Adds resolved ``frames`` and ``resolved_frame`` to every group, and merges groups whose
    resolved top function is the same (kind and normalized message being equal too)."""
    merged: dict[tuple[str, str, str], Json] = {}
    groups: list[Json] = []
    for g in result["groups"]:
        releases: Iterable[str | None] = g.get("releases") or [None]
        frames: list[Json] = []
        for release in releases:
            frames = resolver.frames(g.get("stack"), release)
            if frames and frames[0]["function"]:
                break
        g = {**g, "frames": frames, "resolved_frame": _top(frames), "fingerprints": [g["fingerprint"]]}
        top = frames[0]["function"] if frames and frames[0]["function"] else None
        if top is None:
            groups.append(g)
            continue
        key = (str(g.get("kind")), normalize_message(str(g.get("message") or "")), top)
        if key in merged:
            _merge(merged[key], g)
        else:
            merged[key] = g
            groups.append(g)
    gone = len(result["groups"]) - len(groups)
    groups.sort(key=lambda g: (-g["count"], -(g["last_seen"] or 0)))
    return {**result, "groups": groups, "group_count": result["group_count"] - gone}

"""The WebAssembly binary container: sections, the ``name`` section's function names, the
``build_id`` section, and the hashes a module is matched by.

Only the container is read here (it is a few LEB128 lengths); DWARF inside it is parsed by
pyelftools (``dwarf.py``). Offsets follow the browsers: a frame's ``0x5c`` is a byte offset in
the module, and DWARF addresses are offsets from the start of the code section's payload.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

__all__ = ["MAGIC", "Module", "ModuleError", "Section", "parse", "strip"]

MAGIC = b"\0asm\x01\0\0\0"
_CODE, _CUSTOM = 10, 0
_NAME_FUNCTIONS = 1


class ModuleError(ValueError):
    """The bytes are not a WebAssembly module (or a truncated one)."""


@dataclass(frozen=True)
class Section:
    id: int
    name: str  # custom sections only
    start: int  # payload offset in the module
    end: int


@dataclass(frozen=True)
class Module:
    size: int
    content_hash: str
    code_hash: str | None  # sha256 of the code section's payload: equal in stripped copies
    code_start: int | None
    build_id: str | None
    functions: dict[int, str] = field(default_factory=dict)  # function index -> name
    module_name: str | None = None
    custom: dict[str, bytes] = field(default_factory=dict)  # custom sections by name

    @property
    def has_dwarf(self) -> bool:
        return ".debug_line" in self.custom


def _leb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ModuleError("truncated LEB128 number")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 35:
            raise ModuleError("LEB128 number too long")


def _name(data: bytes, pos: int) -> tuple[str, int]:
    n, pos = _leb(data, pos)
    if pos + n > len(data):
        raise ModuleError("truncated name")
    return data[pos:pos + n].decode("utf-8", "replace"), pos + n


def sections(data: bytes) -> list[Section]:
    if data[:8] != MAGIC:
        raise ModuleError("not a WebAssembly module (bad magic or version)")
    out, pos = [], 8
    while pos < len(data):
        sid = data[pos]
        size, start = _leb(data, pos + 1)
        end = start + size
        if end > len(data):
            raise ModuleError(f"section {sid} runs past the end of the module")
        name = _name(data, start)[0] if sid == _CUSTOM else ""
        out.append(Section(sid, name, start, end))
        pos = end
    return out


def _names(payload: bytes) -> tuple[str | None, dict[int, str]]:
    """The module name and function names of a ``name`` section (other subsections skipped)."""
    module, functions, pos = None, {}, 0
    while pos < len(payload):
        kind = payload[pos]
        size, pos = _leb(payload, pos + 1)
        sub, end = pos, pos + size
        if kind == 0:
            module = _name(payload, sub)[0]
        elif kind == _NAME_FUNCTIONS:
            count, sub = _leb(payload, sub)
            for _ in range(count):
                index, sub = _leb(payload, sub)
                functions[index], sub = _name(payload, sub)
        pos = end
    return module, functions


def parse(data: bytes) -> Module:
    """Reads a module's container; raises ModuleError on anything that is not one."""
    found = sections(data)
    custom: dict[str, bytes] = {}
    code = None
    for s in found:
        if s.id == _CODE:
            code = s
        elif s.id == _CUSTOM:
            body = _name(data, s.start)[1]
            custom.setdefault(s.name, data[body:s.end])
    try:
        module_name, functions = _names(custom["name"]) if "name" in custom else (None, {})
    except ModuleError:
        module_name, functions = None, {}  # a damaged name section is no reason to refuse
    build_id = None
    if "build_id" in custom:
        raw = custom["build_id"]
        try:
            n, pos = _leb(raw, 0)
            build_id = raw[pos:pos + n].hex() or None
        except ModuleError:
            build_id = raw.hex() or None
    return Module(
        size=len(data),
        content_hash=hashlib.sha256(data).hexdigest(),
        code_hash=hashlib.sha256(data[code.start:code.end]).hexdigest() if code else None,
        code_start=code.start if code else None,
        build_id=build_id,
        functions=functions,
        module_name=module_name,
        custom=custom,
    )


def strip(data: bytes) -> bytes:
    """The module without its custom sections (what a release build ships)."""
    out = bytearray(data[:8])
    for s in sections(data):
        if s.id != _CUSTOM:
            head = s.start - 1
            while data[head - 1] & 0x80:  # back over the size LEB to the id byte
                head -= 1
            out += data[head - 1:s.end]
    return bytes(out)

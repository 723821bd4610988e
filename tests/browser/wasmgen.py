"""A real WebAssembly module of any size, assembled byte by byte: `add(a, b)`, an exported memory
and one active data segment of `data_bytes` pseudo-random bytes (so it does not compress away).
The multi-megabyte module of the cross-engine load tests; the demo's module is 0.5 KB."""

from __future__ import annotations

import random


def _leb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _vec(items: list[bytes]) -> bytes:
    return _leb(len(items)) + b"".join(items)


def _section(sid: int, body: bytes) -> bytes:
    return bytes([sid]) + _leb(len(body)) + body


def _name(s: str) -> bytes:
    return _leb(len(s)) + s.encode()


def big_module(data_bytes: int, seed: int = 13) -> bytes:
    """A valid module whose binary is `data_bytes` plus about 60 bytes."""
    pages = data_bytes // 65536 + 1
    data = random.Random(seed).randbytes(data_bytes)
    add_body = b"\x00" + b"\x20\x00\x20\x01\x6a\x0b"  # no locals; local.get 0, local.get 1, i32.add, end
    return b"".join([
        b"\x00asm\x01\x00\x00\x00",
        _section(1, _vec([b"\x60\x02\x7f\x7f\x01\x7f"])),  # type 0: (i32, i32) -> i32
        _section(3, _vec([b"\x00"])),  # func 0: type 0
        _section(5, _vec([b"\x00" + _leb(pages)])),  # memory 0: min pages
        _section(7, _vec([_name("add") + b"\x00\x00", _name("memory") + b"\x02\x00"])),
        _section(10, _vec([_leb(len(add_body)) + add_body])),
        _section(11, _vec([b"\x00\x41\x00\x0b" + _leb(len(data)) + data])),  # active, offset i32.const 0
    ])

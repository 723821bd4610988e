"""The wasm container: sections, names, hashes, strip; DWARF lines against a real V8 trap."""

from __future__ import annotations

import pytest

from tests.symbols.build import Built
from tests.symbols.engine import trap_stack
from wasmwatch.symbols import ModuleError, parse, parse_frames, strip
from wasmwatch.symbols.dwarf import line_table


def test_name_section_gives_function_names(built: Built) -> None:
    """The debug build's name section names every function by its index."""
    module = parse(built.debug.read_bytes())
    assert module.functions == {0: "run", 1: "step", 2: "check", 3: "divide"}
    assert module.has_dwarf


def test_stripped_copy_keeps_the_code_section(built: Built) -> None:
    """Stripping drops names and DWARF but keeps the code (hash and offset) of the debug build."""
    debug, stripped = parse(built.debug.read_bytes()), parse(built.stripped.read_bytes())
    assert stripped.functions == {} and not stripped.has_dwarf
    assert stripped.code_hash == debug.code_hash and stripped.code_start == debug.code_start
    assert stripped.content_hash != debug.content_hash
    assert parse(strip(built.stripped.read_bytes())).content_hash == stripped.content_hash


def test_dwarf_lines_match_a_real_trap(built: Built) -> None:
    """Each frame V8 reports for the trap maps to its source line through .debug_line."""
    module = parse(built.debug.read_bytes())
    table = line_table(module.custom)
    assert table is not None and module.code_start is not None
    frames = parse_frames(trap_stack(built.stripped, "run", 5))
    assert [f["index"] for f in frames] == [2, 1, 0]
    where = [table.lookup(int(f["offset"], 16) - module.code_start) for f in frames]
    assert [(file.rsplit("/", 1)[-1], line) for file, line in where] == [
        ("app.c", built.line_of("TRAP LINE")), ("app.c", built.line_of("CALL LINE")),
        ("app.c", built.line_of('export_name("run")'))]


@pytest.mark.parametrize("data", [b"", b"\0asm\x02\0\0\0", b"GIF89a", b"\0asm\x01\0\0\0\x0a\xff\xff"])
def test_non_modules_are_refused(data: bytes) -> None:
    """Bytes that are not a module (or a truncated one) raise ModuleError."""
    with pytest.raises(ModuleError):
        parse(data)


def test_stack_frames_of_each_engine_format() -> None:
    """Chromium (named and not) and Firefox frames give index, offset, URL and name."""
    stack = ("RuntimeError: unreachable\n"
             "    at check (http://h/app.wasm:wasm-function[2]:0x8d)\n"
             "    at wasm://wasm/0a8619e2:wasm-function[1]:0x6d\n"
             "run@http://h/app.wasm:wasm-function[0]:0x59\n"
             "    at file:///x.js:3:4")
    assert parse_frames(stack) == [
        {"fn": "check", "url": "http://h/app.wasm", "index": 2, "offset": "0x8d"},
        {"fn": None, "url": "wasm://wasm/0a8619e2", "index": 1, "offset": "0x6d"},
        {"fn": "run", "url": "http://h/app.wasm", "index": 0, "offset": "0x59"},
    ]


def test_build_id_section_is_read(built: Built) -> None:
    """A `build_id` custom section (LLVM's --build-id) gives the module's build id."""
    ident = bytes(range(16))
    payload = bytes([8]) + b"build_id" + bytes([len(ident)]) + ident
    data = built.stripped.read_bytes() + bytes([0, len(payload)]) + payload
    assert parse(data).build_id == ident.hex()
    assert parse(built.stripped.read_bytes()).build_id is None


def test_fetcher_only_fetches_http_urls_of_opted_in_projects() -> None:
    """file:, scrubbed hosts ("[ip]"), malformed URLs and other projects start no fetch."""
    from wasmwatch.symbols import Fetcher

    fetcher = Fetcher(store=None, projects=["default"], max_bytes=1, now_ms=lambda: 0)  # type: ignore[arg-type]
    for url in ("file:///etc/passwd", "http://[ip]:8080/app.wasm", "http://[::1/x", "ftp://h/x.wasm"):
        fetcher("default", url, None)
    fetcher("other", "http://localhost:1/app.wasm", None)
    assert fetcher.threads == []

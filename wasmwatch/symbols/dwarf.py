"""DWARF line tables of a wasm module, parsed by pyelftools over the raw custom sections.

pyelftools reads DWARF from any stream of section bytes (``DWARFInfo`` takes one descriptor per
section), so no ELF container is needed: the ``.debug_*`` custom sections of the module are
handed to it as they are. Addresses are code-section offsets (the wasm DWARF convention).
"""

from __future__ import annotations

import io
import logging
import posixpath
from bisect import bisect_right
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by line_table, on the first module with DWARF (~2 MB resident)
    from elftools.dwarf.dwarfinfo import DebugSectionDescriptor, DWARFInfo

__all__ = ["LineTable", "line_table"]

log = logging.getLogger(__name__)
#: (address, file, line); a row with line 0 ends a sequence (no source for what follows)
Row = tuple[int, str, int]
_SECTIONS = ("info", "aranges", "abbrev", "frame", "eh_frame", "str", "loc", "ranges", "line",
             "pubtypes", "pubnames", "addr", "str_offsets", "line_str", "loclists", "rnglists",
             "sup", "gnu_debugaltlink", "types")


class LineTable:
    """Sorted rows; ``lookup(address)`` is the source line of the row at or before it."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = sorted(rows)
        self._addresses = [r[0] for r in self.rows]

    def lookup(self, address: int) -> tuple[str, int] | None:
        i = bisect_right(self._addresses, address) - 1
        if i < 0 or self.rows[i][2] == 0:
            return None
        return self.rows[i][1], self.rows[i][2]


def _descriptor(name: str, data: bytes | None) -> DebugSectionDescriptor | None:
    from elftools.dwarf.dwarfinfo import DebugSectionDescriptor

    if data is None:
        return None
    return DebugSectionDescriptor(io.BytesIO(data), name, None, len(data), 0)


def _file_name(program: Any, index: int) -> str:
    header = program.header
    entries = header["file_entry"]
    version = header["version"]
    # DWARF 5 numbers files from 0, earlier versions from 1
    entry = entries[index if version >= 5 else index - 1] if entries else None
    if entry is None:
        return "?"
    name = _text(entry.name)
    directories = header["include_directory"]
    d = entry.dir_index if version >= 5 else entry.dir_index - 1
    if 0 <= d < len(directories) and not posixpath.isabs(name):
        name = posixpath.join(_text(directories[d]), name)
    return name


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _rows(dwarf: DWARFInfo) -> list[Row]:
    rows: list[Row] = []
    for cu in dwarf.iter_CUs():
        program = dwarf.line_program_for_CU(cu)
        if program is None:
            continue
        for entry in program.get_entries():
            state = entry.state
            if state is None:
                continue
            if state.end_sequence:
                rows.append((state.address, "", 0))
            else:
                rows.append((state.address, _file_name(program, state.file), state.line))
    return rows


def line_table(custom: Mapping[str, bytes]) -> LineTable | None:
    """The line table of a module's ``.debug_*`` sections, or None when it has none (or it
    cannot be read: a broken table resolves names only, never fails an upload)."""
    if ".debug_line" not in custom or ".debug_info" not in custom:
        return None
    from elftools.common.exceptions import ELFError
    from elftools.dwarf.dwarfinfo import DwarfConfig, DWARFInfo

    args = [_descriptor(f".debug_{s}", custom.get(f".debug_{s}")) for s in _SECTIONS]
    try:
        dwarf = DWARFInfo(DwarfConfig(little_endian=True, machine_arch="wasm32",
                                      default_address_size=4), *args)
        return LineTable(_rows(dwarf))
    except (ELFError, ValueError, KeyError, IndexError, AttributeError) as exc:
        log.warning("unreadable DWARF line table: %s", exc)
        return None

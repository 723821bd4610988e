"""Symbol files in their own table (``symbol_files``), beside the items and apart from them.

A row is one module as uploaded or fetched: its hashes (content, code section, build id), the
offset of its code section, and what it can resolve (function names, DWARF line rows). A
stripped module and its debug build are two rows with one ``code_hash``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from wasmwatch.symbols.dwarf import LineTable, line_table
from wasmwatch.symbols.module import Module

__all__ = ["DDL", "SymbolFile", "SymbolStore", "from_module"]

DDL = """CREATE TABLE IF NOT EXISTS symbol_files (
  project VARCHAR NOT NULL, content_hash VARCHAR NOT NULL, release VARCHAR, name VARCHAR,
  url VARCHAR, code_hash VARCHAR, build_id VARCHAR, code_start BIGINT, size BIGINT,
  source VARCHAR NOT NULL, functions VARCHAR NOT NULL, lines VARCHAR NOT NULL,
  created_ms BIGINT NOT NULL, PRIMARY KEY (project, content_hash))"""
_COLUMNS = ("project", "content_hash", "release", "name", "url", "code_hash", "build_id",
            "code_start", "size", "source", "functions", "lines", "created_ms")


@dataclass(frozen=True)
class SymbolFile:
    project: str
    content_hash: str
    release: str | None
    name: str | None
    url: str | None
    code_hash: str | None
    build_id: str | None
    code_start: int | None
    size: int
    source: str  # "upload" or "fetch"
    functions: str  # JSON {index: name}
    lines: str  # JSON [[address, file, line], ...]
    created_ms: int

    @property
    def function_count(self) -> int:
        return len(_functions(self.functions))

    @property
    def line_rows(self) -> int:
        return len(_table(self.lines).rows)

    @property
    def has_symbols(self) -> bool:
        return self.functions != "{}" or self.lines != "[]"

    def function(self, index: int) -> str | None:
        return _functions(self.functions).get(index)

    def line(self, address: int) -> tuple[str, int] | None:
        return _table(self.lines).lookup(address)

    def summary(self) -> dict[str, Any]:
        return {"content_hash": self.content_hash, "code_hash": self.code_hash,
                "build_id": self.build_id, "release": self.release, "name": self.name,
                "url": self.url, "size": self.size, "source": self.source,
                "functions": self.function_count, "line_rows": self.line_rows,
                "created_ms": self.created_ms}


@lru_cache(maxsize=64)
def _functions(text: str) -> dict[int, str]:
    return {int(k): v for k, v in json.loads(text).items()}


@lru_cache(maxsize=64)
def _table(text: str) -> LineTable:
    return LineTable([(a, f, n) for a, f, n in json.loads(text)])


def from_module(module: Module, *, project: str, release: str | None, name: str | None,
                url: str | None, source: str, now_ms: int) -> SymbolFile:
    table = line_table(module.custom)
    return SymbolFile(
        project=project, content_hash=module.content_hash, release=release, name=name, url=url,
        code_hash=module.code_hash, build_id=module.build_id, code_start=module.code_start,
        size=module.size, source=source,
        functions=json.dumps({str(k): v for k, v in sorted(module.functions.items())}),
        lines=json.dumps(table.rows if table else []), created_ms=now_ms,
    )


class SymbolStore:
    """Reads and writes ``symbol_files`` through a DuckDB connection (a cursor per thread)."""

    def __init__(self, connect: Any) -> None:
        self._connect = connect
        self._ready = False
        self._lock = threading.Lock()

    def _con(self) -> Any:
        con = self._connect()
        if not self._ready:
            with self._lock:
                con.execute(DDL)
                self._ready = True
        return con

    def put(self, f: SymbolFile) -> None:
        """Adds a file, or replaces the one with the same content (a later release wins)."""
        marks = ", ".join("?" for _ in _COLUMNS)
        self._con().execute(f"INSERT OR REPLACE INTO symbol_files VALUES ({marks})",
                            [getattr(f, c) for c in _COLUMNS])

    def _select(self, where: str, params: list[Any]) -> list[SymbolFile]:
        rows = self._con().execute(
            f"SELECT {', '.join(_COLUMNS)} FROM symbol_files WHERE {where} ORDER BY created_ms DESC",
            params).fetchall()
        return [SymbolFile(*row) for row in rows]

    def files(self, project: str) -> list[SymbolFile]:
        return self._select("project = ?", [project])

    def by_url(self, project: str, url: str) -> list[SymbolFile]:
        return self._select("project = ? AND url = ?", [project, url])

    def by_code(self, project: str, code_hash: str) -> list[SymbolFile]:
        return self._select("project = ? AND code_hash = ?", [project, code_hash])

    def by_build_id(self, project: str, build_id: str) -> list[SymbolFile]:
        return self._select("project = ? AND build_id = ?", [project, build_id])

    def for_release(self, project: str, release: str) -> list[SymbolFile]:
        return self._select("project = ? AND release = ?", [project, release])

"""wasmwatch's own write-ahead journal: a group commit is durable once appended here.

A group commit's rows, already in the shape of their DuckDB tables (the ``batches`` rows and
each item type's rows, Arrow tables), are written as one *record* to an append-only file in
``<data dir>/journal/`` and made durable with ``fdatasync``; then the requests are answered.
The store applies the pending records to DuckDB later, many at once, in one transaction that
also records the highest sequence number applied (``meta``), so a record is applied exactly
once whatever happens: at open, records up to that number are skipped, the rest applied.

A record is ``MAGIC, seq (u64), length (u32), crc32 (u32)`` then ``length`` bytes of payload:
for each table its name (u16 length + UTF-8) and its Arrow IPC stream (u32 length + bytes).
A record cut short or with a wrong checksum ends the file: it was being written when the
process died, so its fsync never returned and nobody was told it was stored.

Files rotate: :meth:`Journal.take` hands every pending record to the applier and starts a new
file for the next append; once those records are applied, :meth:`Journal.applied` deletes the
files that held them. A failed append (a full disk) cuts the file back to its last whole record
and raises, so later records never follow a torn one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

__all__ = ["Journal", "Record", "read_records"]

log = logging.getLogger(__name__)
MAGIC = b"WWJ1"
_HEAD = struct.Struct("<4sQII")
_NAME = struct.Struct("<H")
_SIZE = struct.Struct("<I")
_SUFFIX = ".wwj"
# made once: without options each stream looks its defaults up in the environment
_OPTIONS = pa.ipc.IpcWriteOptions()


class Record(NamedTuple):
    """One group commit: its sequence number and its rows, by table name."""

    seq: int
    tables: dict[str, pa.Table]
    rows: int
    nbytes: int


def _encode(tables: dict[str, pa.Table]) -> list[Any]:
    """The payload of a record, as buffers to write one after another (not copied into one)."""
    parts: list[Any] = []
    for name, table in tables.items():
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=_OPTIONS) as stream:
            stream.write_table(table)
        data = sink.getvalue()
        raw = name.encode()
        parts += [_NAME.pack(len(raw)) + raw + _SIZE.pack(data.size), data]
    return parts


def _decode(payload: bytes) -> dict[str, pa.Table]:
    tables: dict[str, pa.Table] = {}
    at = 0
    while at < len(payload):
        (n,) = _NAME.unpack_from(payload, at)
        name = payload[at + 2:at + 2 + n].decode()
        at += 2 + n
        (size,) = _SIZE.unpack_from(payload, at)
        at += 4
        with pa.ipc.open_stream(pa.py_buffer(payload[at:at + size])) as stream:
            tables[name] = stream.read_all()
        at += size
    return tables


def _rows(tables: dict[str, pa.Table]) -> int:
    """Items in a record (the ``batches`` rows are contexts, not items)."""
    return sum(t.num_rows for name, t in tables.items() if name != "batches")


def read_records(path: Path) -> Iterator[Record]:
    """The whole records of one journal file, in order; stops at a torn or damaged one."""
    data = path.read_bytes()
    at = 0
    while at + _HEAD.size <= len(data):
        magic, seq, length, crc = _HEAD.unpack_from(data, at)
        payload = data[at + _HEAD.size:at + _HEAD.size + length]
        if magic != MAGIC or len(payload) < length or zlib.crc32(payload) != crc:
            break
        tables = _decode(payload)
        yield Record(seq, tables, _rows(tables), _HEAD.size + length)
        at += _HEAD.size + length
    if at < len(data):
        log.warning("journal %s: %d bytes after the last whole record ignored (a write cut "
                    "short by a crash, never acknowledged)", path, len(data) - at)


def _write_all(fd: int, buffers: list[Any]) -> None:
    """``writev`` until every byte of ``buffers`` is written (a write may stop part-way)."""
    views = [memoryview(b).cast("B") for b in buffers]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


class Journal:
    """The journal files of one data dir; appends from the writer thread only.

    ``next_seq`` is the sequence number the next append gets. Pending records stay in memory
    (``pending``) until :meth:`take` hands them to the applier."""

    def __init__(self, folder: Path, next_seq: int, *, sync: bool = True) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.next_seq = next_seq
        self.sync = sync
        self._lock = threading.Lock()  # an append and a rotation never interleave
        self._fd: int | None = None
        self._size = 0
        self._files: list[Path] = []  # files holding pending records (the last one open)
        self.pending: list[Record] = []
        self.pending_rows = 0
        self.pending_bytes = 0

    def existing(self) -> list[Path]:
        """Journal files left by an earlier run, oldest first (their names sort by seq)."""
        return sorted(self.folder.glob(f"*{_SUFFIX}"))

    def _open(self) -> int:
        path = self.folder / f"{self.next_seq:020d}{_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if self.sync:  # the new file's name must be as durable as what it will hold
            dir_fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self._fd, self._size = fd, 0
        self._files.append(path)
        return fd

    def append(self, tables: dict[str, pa.Table]) -> Record:
        """Write one record durably (``fdatasync``) and keep it pending; raises OSError when
        it cannot (the file is then cut back to its last whole record)."""
        parts = _encode(tables)
        length = sum(len(memoryview(p)) for p in parts)
        crc = 0
        for part in parts:
            crc = zlib.crc32(part, crc)
        with self._lock:
            seq = self.next_seq
            fd = self._fd if self._fd is not None else self._open()
            try:
                _write_all(fd, [_HEAD.pack(MAGIC, seq, length, crc), *parts])
                if self.sync:
                    os.fdatasync(fd)
            except OSError:
                self._cut_back(fd)
                raise
            self._size += _HEAD.size + length
            self.next_seq = seq + 1
            record = Record(seq, tables, _rows(tables), _HEAD.size + length)
            self.pending.append(record)
            self.pending_rows += record.rows
            self.pending_bytes += record.nbytes
        return record

    def _cut_back(self, fd: int) -> None:
        try:
            os.ftruncate(fd, self._size)
        except OSError:  # cannot even cut: leave that file, the next append starts a new one
            log.exception("journal: cannot cut back a failed append; starting a new file")
            with contextlib.suppress(OSError):
                os.close(fd)
            self._fd = None

    def take(self) -> tuple[list[Record], list[Path]]:
        """Every pending record and the files holding them; the next append starts a new file."""
        with self._lock:
            records, files = self.pending, self._files
            self.pending, self._files = [], []
            self.pending_rows = self.pending_bytes = 0
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        return records, files

    def give_back(self, records: list[Record], files: list[Path]) -> None:
        """Records :meth:`take` handed out whose apply failed: pending again, before the rest."""
        with self._lock:
            self.pending = records + self.pending
            self._files = files + self._files
            self.pending_rows += sum(r.rows for r in records)
            self.pending_bytes += sum(r.nbytes for r in records)

    def applied(self, files: list[Path]) -> None:
        """The records of ``files`` are in the store: delete the files."""
        for path in files:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

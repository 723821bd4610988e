"""Exact idempotency in bounded memory: a Bloom filter in front of an on-disk index of keys.

Each item's key is a 64-bit hash of its project and id (:func:`key_hashes`): stable (the same
in every process, so what is written to disk stays valid), and computed a whole column at a
time on the strings' Arrow buffers, never per item in Python.

:class:`SeenFilter` is a blocked Bloom filter: each key sets ``K`` bits inside one 64-bit
word, so a lookup or an insert touches one word. It answers only "surely new" or "maybe seen".
Its memory is fixed at construction (``size_bytes``, default 32 MiB, allocated lazily by the
OS); at 10 M keys in 32 MiB about 3 in 100,000 new keys are "maybe", and the rate grows with
the number of keys.

:class:`KeyIndex` answers a "maybe" without reading every stored id. It holds every stored
key's hash with its batch number, on disk in *runs*: table ``seen_run_<hi>`` holds the keys of
batches ``(previous run's hi, hi]``, sorted by hash, so DuckDB's zone maps let a lookup of
``k`` hashes read at most ``k`` row groups per run. The keys of the batches after the last run
are kept in memory (at most ``run_keys``, 1,048,576 by default: 16 MiB) and written as the next
run once that many have gathered; after a kill -9 they are recomputed on open from the items
whose batch is after the last run (batches only grow, so zone maps read only those rows).
A run whose batches are all older than the oldest stored batch (retention) is dropped.

The store then confirms every index hit in the item tables, reading only the batches the
index named, so idempotency stays exact: a hash collision, or a key whose item retention has
deleted, is not a duplicate.

Memory for all of it: the filter's ``size_bytes``, the in-memory keys (16 bytes each, at most
``run_keys``), and a chunk of :data:`CHUNK` keys at a time while the filter is refilled on open
or the index is rebuilt from the items (a data dir of layout 2 made before the index).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["CHUNK", "KeyIndex", "SeenFilter", "key_hashes", "string_hashes"]

K = 8
_MIX = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_SEED = np.uint64(0x77_61_73_6D_77_61_74_63)  # "wasmwatc": fixed, so hashes are stable on disk
#: keys read at a time while refilling the filter or rebuilding the index
CHUNK = 1 << 16
_RUN = re.compile(r"^seen_run_(\d+)$")

Connection = Any
#: ``(lo, hi) -> Arrow table (batch, project, id)`` of the stored items with lo < batch <= hi
ItemKeys = Callable[[int, int], pa.Table]


def _fmix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (every input bit reaches every output bit)."""
    h = h ^ (h >> np.uint64(33))
    h = h * _M1
    h = h ^ (h >> np.uint64(33))
    h = h * _M2
    out: np.ndarray = h ^ (h >> np.uint64(33))
    return out


def string_hashes(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A stable 64-bit hash of each string of ``column`` (no nulls), 8 bytes per numpy step.

    A string's hash depends on its bytes alone (not on the other strings of the column)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], pa.string())
    if column.type != pa.string():
        column = column.cast(pa.string())
    n = len(column)
    if not n:
        return np.zeros(0, dtype=np.uint64)
    _, off_buf, data_buf = column.buffers()
    offsets = np.frombuffer(off_buf, np.int32, n + 1, column.offset * 4).astype(np.int64)
    starts, lengths = offsets[:-1], np.diff(offsets)
    data = np.zeros(int(offsets[-1]) + 8, dtype=np.uint8)  # 8 bytes of padding: every read fits
    if data_buf is not None and offsets[-1]:
        data[:offsets[-1]] = np.frombuffer(data_buf, np.uint8, int(offsets[-1]))
    # the 8 bytes from every byte offset, as one unaligned uint64 each (no copy)
    words = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    h = _SEED ^ (lengths.astype(np.uint64) * _MIX)
    last = len(words) - 1
    for j in range(0, int(lengths.max()), 8):
        left = lengths - j  # bytes of each string from here on (<= 0: it has ended)
        keep = np.where(left >= 8, _ALL,
                        (_ONE << (np.clip(left, 0, 7) * 8).astype(np.uint64)) - _ONE)
        word = words[np.minimum(starts + j, last)] & keep
        h = np.where(left > 0, _fmix(h ^ word), h)
    return _fmix(h)


_U64 = (1 << 64) - 1


def _fmix_int(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _U64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _U64
    return h ^ (h >> 33)


def _string_hash_int(text: str) -> int:
    """:func:`string_hashes` of one string, in plain Python (cheaper for a few strings)."""
    data = text.encode()
    h = int(_SEED) ^ ((len(data) * int(_MIX)) & _U64)
    for j in range(0, len(data), 8):
        h = _fmix_int(h ^ int.from_bytes(data[j:j + 8], "little"))
    return _fmix_int(h)


@lru_cache(maxsize=1024)
def _project_hash(project: str) -> int:
    return (_string_hash_int(project) * int(_MIX)) & _U64


#: below this many keys the plain-Python hash is cheaper than numpy's fixed price per call
_FEW = 24


def key_hashes(projects: Sequence[str] | pa.Array | pa.ChunkedArray,
               ids: Sequence[str] | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The 64-bit key of each ``(project, id)``, as uint64; stable across processes."""
    if len(projects) != len(ids):
        raise ValueError(f"{len(projects)} projects for {len(ids)} ids")
    if len(ids) < _FEW and not isinstance(ids, pa.Array | pa.ChunkedArray):
        projects = projects.to_pylist() if not isinstance(projects, Sequence) else projects
        return np.fromiter((_fmix_int(_string_hash_int(i) ^ _project_hash(p))
                            for p, i in zip(projects, ids, strict=True)), np.uint64, len(ids))
    id_col = ids if isinstance(ids, pa.Array | pa.ChunkedArray) else pa.array(ids, pa.string())
    if isinstance(projects, pa.Array | pa.ChunkedArray):
        proj = projects.combine_chunks() if isinstance(projects, pa.ChunkedArray) else projects
        coded = proj if pa.types.is_dictionary(proj.type) else proj.dictionary_encode()
        names = coded.dictionary
        codes = np.asarray(coded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    else:
        if projects.count(projects[0]) == len(projects):  # one project: the usual case
            return _fmix(string_hashes(id_col) ^ np.uint64(_project_hash(projects[0])))
        number = {p: i for i, p in enumerate(dict.fromkeys(projects))}
        names = pa.array(list(number), pa.string())
        codes = np.fromiter(map(number.__getitem__, projects), np.int64, len(projects))
    per_project = np.fromiter(map(_project_hash, names.to_pylist()), np.uint64, len(names))
    return _fmix(string_hashes(id_col) ^ per_project[codes])


class SeenFilter:
    def __init__(self, size_bytes: int = 32 << 20) -> None:
        words = 1 << max(10, (max(size_bytes, 8) // 8).bit_length() - 1)  # a power of two
        self.words = np.zeros(words, dtype=np.uint64)
        self._index_mask = np.uint64(words - 1)
        self.count = 0  # keys added since the last clear

    @property
    def size_bytes(self) -> int:
        return int(self.words.nbytes)

    def _slots(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys = keys.astype(np.uint64, copy=False)
        index = (keys & self._index_mask).astype(np.int64)
        mixed = keys * _MIX
        mask = np.zeros(len(keys), dtype=np.uint64)
        for i in range(K):
            mask |= np.uint64(1) << ((mixed >> np.uint64(6 * i + 10)) & np.uint64(63))
        return index, mask

    def maybe(self, keys: np.ndarray) -> np.ndarray:
        """Per key: True if it may have been added, False if it surely was not."""
        if not len(keys):
            return np.zeros(0, dtype=np.bool_)
        index, mask = self._slots(keys)
        result: np.ndarray = (self.words[index] & mask) == mask
        return result

    def add(self, keys: np.ndarray) -> None:
        if not len(keys):
            return
        index, mask = self._slots(keys)
        order = np.argsort(index, kind="stable")  # OR the masks of equal words together first
        index, mask = index[order], mask[order]
        starts = np.flatnonzero(np.concatenate(([True], index[1:] != index[:-1])))
        self.words[index[starts]] |= np.bitwise_or.reduceat(mask, starts)
        self.count += len(keys)

    def clear(self) -> None:
        self.words = np.zeros(len(self.words), dtype=np.uint64)  # fresh pages, not touched ones
        self.count = 0


def _run_name(hi: int) -> str:
    return f"seen_run_{int(hi)}"


class KeyIndex:
    """Every stored key's hash and batch: sorted runs on disk plus the newest keys in memory.

    Call everything on the writer thread, between transactions."""

    def __init__(self, run_keys: int = 1 << 20) -> None:
        self.run_keys = run_keys
        self.runs: list[int] = []  # each run's highest batch, ascending
        self._hashes: list[np.ndarray] = []  # keys of batches after the last run (uint64)
        self._batches: list[np.ndarray] = []
        self._recent = 0

    @property
    def through(self) -> int:
        """The highest batch whose keys are all on disk (0: none)."""
        return self.runs[-1] if self.runs else 0

    @property
    def recent(self) -> int:
        """Keys held in memory (the batches after the last run)."""
        return self._recent

    def open(self, con: Connection, seen: SeenFilter, last_batch: int, items: ItemKeys,
             stored: int) -> None:
        """Find the runs, refill ``seen`` from them, and recompute the keys after the last
        one from the stored items (``items(lo, hi)``; ``stored`` items in all), writing runs
        as they fill."""
        rows = con.execute("SELECT table_name FROM duckdb_tables() "
                           "WHERE schema_name = current_schema()").fetchall()
        self.runs = sorted(int(m.group(1)) for (name,) in rows if (m := _RUN.match(str(name))))
        self._hashes, self._batches, self._recent = [], [], 0
        seen.clear()
        for hashes in self._disk_hashes(con):
            seen.add(hashes)
        lo = self.through
        if last_batch <= lo:
            return
        step = self._step(con, lo, last_batch, stored)
        while lo < last_batch:
            hi = min(last_batch, lo + step)
            table = items(lo, hi)
            if table.num_rows:
                hashes = key_hashes(table.column("project"), table.column("id"))
                seen.add(hashes)
                self.add(hashes, table.column("batch").to_numpy())
            if self._recent >= self.run_keys:
                self.write_run(con, hi)
            lo = hi

    @staticmethod
    def _step(con: Connection, lo: int, hi: int, stored: int) -> int:
        """Batches per read when rebuilding: about ``CHUNK`` items each (from the mean batch)."""
        ((batches,),) = con.execute("SELECT count(*) FROM batches").fetchall()
        per_batch = max(1.0, stored / max(1, int(batches)))
        return max(1, min(hi - lo, int(CHUNK / per_batch)))

    def _disk_hashes(self, con: Connection) -> Iterator[np.ndarray]:
        for hi in self.runs:
            reader = con.sql(f"SELECT h FROM {_run_name(hi)}").to_arrow_reader(CHUNK)
            for batch in reader:
                yield batch.column(0).to_numpy().view(np.uint64)

    def add(self, hashes: np.ndarray, batches: np.ndarray) -> None:
        """Keys just committed (or found on open), with their batch numbers."""
        if len(hashes):
            self._hashes.append(hashes.astype(np.uint64, copy=False))
            self._batches.append(np.asarray(batches, dtype=np.int64))
            self._recent += len(hashes)

    def _memory(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self._hashes) != 1:
            self._hashes = [np.concatenate(self._hashes) if self._hashes
                            else np.zeros(0, dtype=np.uint64)]
            self._batches = [np.concatenate(self._batches) if self._batches
                             else np.zeros(0, dtype=np.int64)]
        return self._hashes[0], self._batches[0]

    def due(self) -> bool:
        return self._recent >= self.run_keys

    def write_run(self, con: Connection, hi: int) -> None:
        """Write the in-memory keys (all of batches ``<= hi``) as one sorted run."""
        hashes, batches = self._memory()
        _ww_run = pa.table({"h": pa.array(hashes.view(np.int64)), "batch": pa.array(batches)})
        con.execute(f"CREATE TABLE {_run_name(hi)} AS SELECT h, batch FROM _ww_run ORDER BY h")
        self.runs.append(hi)
        self._hashes, self._batches, self._recent = [], [], 0

    def lookup(self, con: Connection, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stored ``(hash, batch)`` pairs whose hash is one of ``hashes`` (uint64)."""
        mem_h, mem_b = self._memory()
        hit = np.isin(mem_h, hashes)
        found_h, found_b = [mem_h[hit]], [mem_b[hit]]
        if self.runs and len(hashes):
            signed = np.unique(hashes.astype(np.uint64).view(np.int64))
            cond = f"h IN ({', '.join(map(str, signed.tolist()))})"
            sql = " UNION ALL ".join(f"SELECT h, batch FROM {_run_name(hi)} WHERE {cond}"
                                     for hi in self.runs)
            rows = con.sql(sql).fetchnumpy()
            found_h.append(np.asarray(rows["h"], dtype=np.int64).view(np.uint64))
            found_b.append(np.asarray(rows["batch"], dtype=np.int64))
        return np.concatenate(found_h), np.concatenate(found_b)

    def drop_before(self, con: Connection, oldest_batch: int) -> int:
        """Drop the runs whose batches are all older than ``oldest_batch``; how many."""
        stale = [hi for hi in self.runs if hi < oldest_batch]
        for hi in stale:
            con.execute(f"DROP TABLE IF EXISTS {_run_name(hi)}")
        self.runs = [hi for hi in self.runs if hi >= oldest_batch]
        return len(stale)

    def refill(self, con: Connection, seen: SeenFilter) -> None:
        """Fill ``seen`` again from the index (after retention deleted many keys)."""
        seen.clear()
        for hashes in self._disk_hashes(con):
            seen.add(hashes)
        seen.add(self._memory()[0])

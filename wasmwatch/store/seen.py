"""A blocked Bloom filter of stored item keys: "surely new" or "maybe seen".

Each key (a 64-bit hash of project and item id, :func:`key_hashes`) sets ``K`` bits inside one
64-bit word, so a lookup or an insert touches one word, and whole arrays of keys are handled by numpy at once.
The filter only ever answers "surely new" or "maybe seen"; the store confirms every "maybe"
against the stored ids, so idempotency stays exact whatever the false-positive rate.

Memory is fixed at construction: ``size_bytes`` (default 32 MiB, allocated lazily by the OS,
so an empty store touches almost none of it). At 10 M keys in 32 MiB about 3 in 100,000 new
keys are "maybe" and cost a lookup; the rate grows with the number of keys, and the store
rebuilds the filter from the stored ids on open and after retention deletes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SeenFilter", "key_hashes"]

K = 8
_MIX = np.uint64(0x9E3779B97F4A7C15)


def key_hashes(projects: Sequence[str], ids: Sequence[str]) -> np.ndarray:
    """The 64-bit key of each ``(project, id)``: Python's tuple hash, stable within this
    process, which is all the filter needs (it is rebuilt from the stored ids on every open)."""
    return np.fromiter(map(hash, zip(projects, ids, strict=True)), np.int64,
                       len(ids)).view(np.uint64)


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

"""Tag values as label values: formatting, and capping the number of distinct values.

Work here happens once per *distinct* raw key in a batch, never once per row.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from operator import attrgetter
from typing import Any

from wasmwatch.telemetry.definitions import Tag

OTHER = "other"
MAX_VALUE_LENGTH = 128
_CACHE_SIZE = 8192


class TagCap:
    """Admits at most ``limit`` distinct values; any later new value becomes ``other``."""

    __slots__ = ("_admitted", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a tag cap must admit at least one value")
        self.limit = limit
        self._admitted: set[str] = set()

    def __call__(self, value: str) -> str:
        """The value itself if admitted (now or before), else ``other``."""
        admitted = self._admitted
        if value in admitted or value == OTHER:
            return value
        if len(admitted) < self.limit:
            admitted.add(value)
            return value
        return OTHER


def format_value(raw: object) -> str:
    """A raw column value as a label value: booleans lower-case, integral floats bare."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = raw if isinstance(raw, str) else str(raw)
    return text[:MAX_VALUE_LENGTH]


class _TagPlan:
    __slots__ = ("cap", "default", "positions", "renames")

    def __init__(self, tag: Tag, positions: tuple[int, ...], cap: TagCap) -> None:
        self.positions = positions
        self.renames = dict(tag.values)
        self.default = tag.default
        self.cap = cap

    def label(self, values: tuple[Any, ...]) -> str:
        for position in self.positions:
            raw = values[position]
            if raw is not None:
                renamed = self.renames.get(raw)
                return self.cap(renamed if renamed is not None else format_value(raw))
        return self.cap(self.default)


class LabelResolver:
    """Maps the raw key of a row (its tag columns) to capped label values."""

    def __init__(self, tags: tuple[Tag, ...], caps: tuple[TagCap, ...]) -> None:
        fields: list[str] = []
        for tag in tags:
            fields.extend(f for f in tag.fields if f not in fields)
        self.fields = tuple(fields)
        self._single = len(fields) == 1
        self._plans = tuple(
            _TagPlan(tag, tuple(fields.index(f) for f in tag.fields), cap)
            for tag, cap in zip(tags, caps, strict=True)
        )
        self._cache: dict[Hashable, tuple[str, ...]] = {}

    def key_getter(self) -> Callable[[Any], Hashable] | None:
        """A C-level getter of the raw key from a row; None when there are no tag columns."""
        return attrgetter(*self.fields) if self.fields else None

    def resolve(self, raw: Hashable) -> tuple[str, ...]:
        """Label values for a raw key, as produced by :meth:`key_getter` (or ``()``)."""
        cached = self._cache.get(raw)
        if cached is not None:
            return cached
        values: tuple[Any, ...] = (raw,) if self._single else raw  # type: ignore[assignment]
        labels = tuple(plan.label(values) for plan in self._plans)
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()  # caps never release a value, so a rebuilt entry is the same
        self._cache[raw] = labels
        return labels

"""Tests for wasmwatch.telemetry._labels."""

from __future__ import annotations

import pytest

from wasmwatch.telemetry._labels import OTHER, LabelResolver, TagCap, format_value
from wasmwatch.telemetry.definitions import Tag


def test_cap_admits_up_to_limit_then_other() -> None:
    """A cap keeps its first values and maps later new ones to other."""
    cap = TagCap(2)
    assert [cap(v) for v in ("a", "b", "c", "a", "b", "d")] == ["a", "b", OTHER, "a", "b", OTHER]


def test_cap_does_not_spend_room_on_other() -> None:
    """The literal value other does not use up the cap."""
    cap = TagCap(1)
    assert [cap(v) for v in (OTHER, "a")] == [OTHER, "a"]


def test_cap_needs_room() -> None:
    """A cap must admit at least one value."""
    with pytest.raises(ValueError):
        TagCap(0)


@pytest.mark.parametrize(("raw", "text"), [
    (True, "true"), (False, "false"), (3.0, "3"), (2.5, "2.5"), (7, "7"), ("x" * 200, "x" * 128),
])
def test_format_value(raw: object, text: str) -> None:
    """Raw column values become short, stable label text."""
    assert format_value(raw) == text


def test_resolver_takes_first_non_null_field_and_renames() -> None:
    """A tag reads its fields in order, renames values and falls back to its default."""
    tags = (Tag("page", ("name", "page")), Tag("mode", ("offline",), ((True, "off"),)),
            Tag("const", default="k"))
    resolver = LabelResolver(tags, (TagCap(9), TagCap(9), TagCap(9)))
    assert resolver.fields == ("name", "page", "offline")
    assert resolver.resolve(("/a", "/b", True)) == ("/a", "off", "k")
    assert resolver.resolve((None, "/b", False)) == ("/b", "false", "k")
    assert resolver.resolve((None, None, None)) == ("unknown", "unknown", "k")


def test_resolver_single_field_keys_are_bare_values() -> None:
    """With one tag column the raw key is the bare value, as attrgetter returns it."""
    resolver = LabelResolver((Tag("op", ("name",)),), (TagCap(9),))
    assert resolver.resolve("save") == ("save",)


def test_resolver_without_fields_has_no_getter() -> None:
    """A metric without tag columns needs no key getter."""
    assert LabelResolver((), ()).key_getter() is None

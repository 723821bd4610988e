"""Item ids are checked for the whole batch at once, and a bad one is named alone."""

from __future__ import annotations

import msgspec

from tests.conftest import NOW
from wasmwatch.ingest import schema as s
from wasmwatch.ingest.pipeline import Pipeline
from wasmwatch.ingest.validate import ids_valid

_typed = msgspec.json.Decoder(s.TypedEnvelope)


def test_ids_valid_on_the_joined_batch() -> None:
    assert ids_valid(["a", "b.c:1-2_X", "x" * 64])
    assert not ids_valid(["a", "b c"])
    assert not ids_valid(["a\nb"])  # a newline inside one id is not two valid ids
    assert not ids_valid(["ok", "é"])


def test_a_bad_id_is_rejected_by_name_and_the_others_kept() -> None:
    """The typed decode takes any id of 1-64 characters; the pipeline refuses the one that
    breaks the pattern with msgspec's words, and keeps the rest of the batch."""
    items = [{"type": "feature", "id": i, "ts": NOW, "name": "x"} for i in ("a1", "a 2", "a3")]
    envelope = _typed.decode(msgspec.json.encode({"items": items}))
    pipeline = Pipeline()
    batch = pipeline.batch(envelope.context, project="p", user_agent=None, sent_at=None,
                           now_ms=NOW)
    chunk, rejected = pipeline.check(envelope.items, batch, 100, typed=True)
    assert [it.id for it in chunk.items] == ["a1", "a3"]
    assert [(r.index, r.error) for r in rejected] == [
        (1, "items[1].id: expected `str` matching regex '^[A-Za-z0-9_.:\\\\-]+$'")]


def test_the_schema_still_states_the_pattern() -> None:
    """The OpenAPI document shows the id pattern although the decoder does not check it."""
    _, components = msgspec.json.schema_components([s.Item])
    assert components["Feature"]["properties"]["id"]["pattern"] == s.ID_PATTERN

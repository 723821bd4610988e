"""A batch's sanitized context is remembered per (project, context, user agent): the same
answer as computed afresh, the time and skew always this batch's own, and a context holding
PII scrubbed (and counted) every time it comes."""

from __future__ import annotations

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.pipeline import Pipeline

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


def test_a_remembered_context_equals_a_fresh_one() -> None:
    ctx = s.Context(session="s1", release="1.0.0", page="/editor?tab=2", connection="wifi")
    remembered, fresh = Pipeline(), Pipeline()
    first = remembered.batch(ctx, project="p", user_agent=UA, sent_at=1_000, now_ms=1_000)
    again = remembered.batch(ctx, project="p", user_agent=UA, sent_at=1_000, now_ms=9_000)
    expected = fresh.batch(ctx, project="p", user_agent=UA, sent_at=1_000, now_ms=9_000)
    assert again == expected
    assert again.context[1:3] == (9_000, 8_000) and first.context[1:3] == (1_000, 0)
    assert again.context[5] == "/editor"  # the query string is still dropped
    other = remembered.batch(ctx, project="q", user_agent=None, sent_at=None, now_ms=9_000)
    assert other.context[0] == "q" and other.context[8] == "unknown"  # no user agent


def test_a_context_with_pii_is_scrubbed_and_counted_every_time() -> None:
    pipeline = Pipeline()
    ctx = s.Context(session="bob@example.com", release="1.0.0")
    for _ in range(3):
        batch = pipeline.batch(ctx, project="p", user_agent=UA, sent_at=None, now_ms=5_000)
        assert batch.context[3] == "[email]"
    assert pipeline.scrubber.counts["email"] == 3


def test_a_context_with_long_strings_is_not_remembered() -> None:
    """What the memo holds stays bounded: a context of long strings is worked out each time."""
    pipeline = Pipeline()
    ctx = s.Context(session="s" * 5000)
    batch = pipeline.batch(ctx, project="p", user_agent=UA, sent_at=None, now_ms=5_000)
    assert batch.context[3] == "s" * 128  # clipped to the context limit
    assert not pipeline._shared
    pipeline.batch(s.Context(session="s1"), project="p", user_agent=UA, sent_at=None, now_ms=5_000)
    assert len(pipeline._shared) == 1

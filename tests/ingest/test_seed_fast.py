"""The seed endpoints' common path makes the same items as mapping each metric by itself."""

from __future__ import annotations

import random
from typing import Any

from tests.conftest import NOW
from wasmwatch.ingest import seed
from wasmwatch.ingest.pipeline import Pipeline

_VALUES: list[Any] = [None, True, False, 0, 1, -1, 2.5, "", "x", "2025-11-01T00:00:00Z", [1],
                      {"a": 1}, 1e20, 2**62 + 10, "critical", "runtime"]
_KINDS = [*seed._MAKERS, "custom_thing", "x" * 300]
_FIELDS = list(seed._Data.__struct_fields__)


def _metric(rng: random.Random) -> dict[str, Any]:
    data = {k: rng.choice(_VALUES) for k in rng.sample(_FIELDS, rng.randint(0, 8))}
    if rng.random() < 0.97:
        data["timestamp"] = NOW - rng.randint(0, 10_000)
    if rng.random() < 0.97:
        data.setdefault("duration", rng.choice(_VALUES))
    metric: dict[str, Any] = {"type": rng.choice(_KINDS), "data": data}
    for key in ("bundle_version", "user_agent"):
        if rng.random() < 0.3:
            metric[key] = rng.choice(["1.0", "Mozilla/5.0 Firefox/133.0", *_VALUES])
    return metric


def test_fast_path_equals_one_by_one() -> None:
    """On random metrics (odd values, missing fields, unknown types, several contexts), the
    fast path either declines or gives exactly the chunks and items of the slow path, and it
    declines only where the slow path has a rejection to name."""
    rng = random.Random(8)
    pipeline = Pipeline()
    taken = 0
    for _ in range(300):
        metrics = [_metric(rng) for _ in range(rng.choice([1, 1, 3, 20]))]
        fast = seed._fast_chunks(metrics, pipeline, "p", None, NOW, 100)
        slow, errors = seed._slow_chunks(metrics, pipeline, "p", None, NOW, 100)
        if fast is None:
            continue
        taken += 1
        assert not errors
        assert [c.context for c in fast] == [c.context for c in slow]
        assert [list(c.items) for c in fast] == [list(c.items) for c in slow]
    assert taken > 100  # the common path is the common case


def test_bad_metric_is_named_by_the_slow_path() -> None:
    """One metric out of range (a negative heap) sends the whole body down the slow path, which
    rejects that metric by its index and keeps the others."""
    def memory(heap: int) -> dict[str, Any]:
        return {"type": "memory", "data": {"timestamp": NOW, "duration": 1, "heap_usage": heap}}

    chunks, errors = seed.chunks([memory(1024), memory(-5), memory(2048)], Pipeline(), "p",
                                 None, NOW, 100)
    assert errors == ["metrics[1].wasm_bytes: must be a finite number >= 0"]
    assert [it.wasm_bytes for c in chunks for it in c.items] == [1024, 2048]  # type: ignore[attr-defined]

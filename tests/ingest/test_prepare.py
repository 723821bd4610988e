"""The derived fields of :func:`wasmwatch.ingest.columnar.prepare`: tags clipped however long
their JSON, errors' frames and fingerprints the same from the caches as made afresh."""

from __future__ import annotations

import random

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.columnar import LIMITS, prepare
from wasmwatch.ingest.fingerprint import fingerprint, top_wasm_frame


def _measurement(tags: dict[str, str | int | float | bool]) -> s.Measurement:
    return s.Measurement(id="m1", ts=0.0, name="fps", value=1.0, tags=tags)


def test_short_tags_are_stored_as_sent_and_long_keys_and_values_are_clipped() -> None:
    """Tags whose JSON is short are encoded as they are; a long key or value is clipped."""
    short, long_ = _measurement({"gpu": "intel", "n": 3}), _measurement(
        {"k" * 70: "v", "scene": "x" * 300, "ok": True})
    prepare([short, long_])
    assert short.tags_json == '{"gpu":"intel","n":3}'
    assert long_.tags_json == ('{"' + "k" * LIMITS["tag_key"] + '":"v","scene":"'
                               + "x" * LIMITS["tag_value"] + '","ok":true}')


def test_error_frames_and_fingerprints_match_a_fresh_computation() -> None:
    """Repeated and distinct errors (short and long stacks) get the uncached frame and key."""
    rng = random.Random(3)
    errors = []
    for i in range(300):
        frames = "\n".join(f"    at f{rng.randrange(9)} (wasm://wasm/ab:wasm-function[{rng.randrange(5)}]"
                           f":0x{rng.randrange(4096):x})" for _ in range(rng.randrange(1, 4)))
        stack = frames + ("\n" + "x" * 5000 if i % 7 == 0 else "")
        errors.append(s.Error(id=f"e{i}", ts=0.0, kind=rng.choice(["RuntimeError", "TypeError"]),
                              message=f"boom {rng.randrange(3)} at 0x{rng.randrange(99):x}",
                              stack=stack if i % 11 else None))
    prepare(errors)
    for e in errors:
        assert e.frame == top_wasm_frame(e.stack)
        assert e.fingerprint == fingerprint(e.kind, e.message, e.frame)

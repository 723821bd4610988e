"""Whatever a client sends, ingest answers a 2xx or a 4xx naming the problem; never a 500."""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import KEY, NOW

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
kinds = st.sampled_from(["bundle_load", "runtime_init", "operation", "error", "memory", "engagement",
                         "feature", "offline_sync", "measurement", "bogus"])
fields = st.dictionaries(
    st.sampled_from(["ms", "name", "total_ms", "kind", "message", "stack", "wasm_bytes", "visible_ms",
                     "synced", "value", "tags", "ok", "offline", "category", "url", "cached"]),
    json_values, max_size=6)
items = st.builds(lambda k, f, i, ts: {"type": k, "id": i, "ts": ts, **f}, kinds, fields,
                  st.text(min_size=0, max_size=70), st.one_of(st.integers(), st.floats(allow_nan=False), st.text()))
envelopes = st.fixed_dictionaries(
    {"items": st.lists(items, max_size=5)},
    optional={"sent_at": json_values, "context": st.dictionaries(
        st.sampled_from(["session", "release", "page", "online", "device"]), json_values), "lost": json_values})

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def check(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code < 500, r.text
    body: dict[str, Any] = r.json()
    if r.status_code >= 400:
        assert body["error"]
    return body


@FUZZ
@given(envelope=envelopes)
async def test_random_envelopes_never_500(client: httpx.AsyncClient, envelope: dict[str, Any]) -> None:
    """Random but JSON envelopes get 200 with per-item reasons, or a 4xx."""
    body = check(await client.post(f"/api/v1/ingest?key={KEY}", content=json.dumps(envelope)))
    if "accepted" in body:
        assert body["accepted"] + len(body["rejected"]) + body["duplicates"] == len(envelope["items"])


@FUZZ
@given(raw=st.binary(max_size=300), gz=st.booleans())
async def test_random_bytes_never_500(client: httpx.AsyncClient, raw: bytes, gz: bool) -> None:
    """Arbitrary bytes, plain or gzipped, get a 4xx."""
    headers = {"content-encoding": "gzip"} if gz else {}
    check(await client.post(f"/api/v1/ingest?key={KEY}", content=gzip.compress(raw) if gz else raw,
                            headers=headers))


@FUZZ
@given(metric=json_values)
async def test_random_seed_metrics_never_500(client: httpx.AsyncClient, metric: Any) -> None:
    """The seed endpoints answer random JSON with a 2xx or a 4xx."""
    check(await client.post(f"/api/telemetry/wasm?key={KEY}", content=json.dumps(metric)))
    check(await client.post(f"/api/telemetry/wasm/bulk?key={KEY}", content=json.dumps({"metrics": [metric]})))


async def test_valid_item_in_fuzzed_batch_is_kept(client: httpx.AsyncClient) -> None:
    """A good item next to garbage is still stored."""
    body = {"items": [{"id": "good-1", "type": "feature", "ts": NOW, "name": "x"}, 7, "x", None]}
    answer = check(await client.post(f"/api/v1/ingest?key={KEY}", content=json.dumps(body)))
    assert answer["accepted"] == 1 and [r["index"] for r in answer["rejected"]] == [1, 2, 3]


params = st.dictionaries(
    st.sampled_from(["window", "step", "metric", "limit", "release", "browser", "operation", "exact",
                     "type", "session", "name", "id", "project"]),
    st.text(max_size=12), max_size=5)


@FUZZ
@given(path=st.sampled_from(["/api/v1/summary", "/api/v1/series", "/api/v1/errors", "/api/v1/items"]),
       query=params)
async def test_random_query_parameters_never_500(client: httpx.AsyncClient, admin: dict[str, str],
                                                 path: str, query: dict[str, str]) -> None:
    """Query endpoints answer any parameters with a 200 or a 4xx naming the problem."""
    check(await client.get(path, params=query, headers=admin))


PII_VALUES = ["bob.smith@example.org", "4111 1111 1111 1111", "203.0.113.9", "Bearer Zx9Yw8Vu7Ts6Rq5P",
              "api_key=AKIA9ZZ1234567890", "https://u:pw9secret@h.example/x", "2001:db8::77"]
PII_NEEDLES = ["bob.smith", "4111 1111 1111 1111", "203.0.113.9", "Zx9Yw8Vu7Ts6Rq5P", "AKIA9ZZ1234567890",
               "pw9secret", "2001:db8::77"]
text_around = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=15)
pii_fields = st.sampled_from([("operation", "name"), ("feature", "name"), ("error", "message"),
                              ("error", "stack"), ("error", "kind"), ("error", "operation"),
                              ("measurement", "name"), ("measurement", "unit"),
                              ("bundle_load", "url"), ("engagement", "page")])


@FUZZ
@given(field=pii_fields, pii=st.sampled_from(PII_VALUES), before=text_around, after=text_around,
       context_field=st.sampled_from(["session", "release", "connection", "device", "page"]))
async def test_pii_anywhere_is_never_stored(client: httpx.AsyncClient, runtime: Any, field: tuple[str, str],
                                            pii: str, before: str, after: str, context_field: str) -> None:
    """PII between random text, in any item field or context field, is never stored."""
    from tests.conftest import envelope, item

    kind, name = field
    value = f"{before} {pii} {after}"
    one = item(kind, **{name: value})
    body = envelope([one], **{context_field: value[:120]})
    r = await client.post(f"/api/v1/ingest?key={KEY}", content=json.dumps(body))
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    rows = runtime.store.query(f"SELECT * FROM items WHERE id = '{one['id']}'")
    stored = json.dumps(rows, default=str, ensure_ascii=False)
    for needle in PII_NEEDLES:
        assert needle not in stored

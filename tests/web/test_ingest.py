"""Ingest over in-process HTTP: validation, rejection by index, idempotency, limits."""

from __future__ import annotations

import gzip

import httpx
import msgspec

from tests.conftest import KEY, NOW, envelope, item
from wasmwatch.runtime import Runtime

URL = f"/api/v1/ingest?key={KEY}"
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def stored(rt: Runtime, where: str = "true") -> list[dict[str, object]]:
    assert rt.store is not None
    return rt.store.query(f"SELECT * FROM items WHERE {where} ORDER BY ts, id")


async def test_all_nine_types_are_stored(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """One item of each of the nine types is accepted and stored."""
    kinds = ["bundle_load", "runtime_init", "operation", "error", "memory", "engagement",
             "feature", "offline_sync", "measurement"]
    r = await client.post(URL, json=envelope([item(k) for k in kinds]), headers={"user-agent": CHROME})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 9, "rejected": [], "duplicates": 0}
    rows = stored(runtime)
    assert sorted(r["type"] for r in rows) == sorted(kinds)
    assert {r["browser"] for r in rows} == {"Chrome"}
    assert {r["browser_major"] for r in rows} == {131}
    assert {r["os"] for r in rows} == {"Linux"}


async def test_bad_item_is_rejected_alone(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """A bad item is named by index with its reason; the rest of the batch is kept."""
    items = [item(), item(ms="slow"), item("nope"), item(), item("measurement", value=1e400)]
    body = msgspec.json.encode(envelope(items[:4])).replace(b"}]", b', "value": 1e400}]')
    r = await client.post(URL, content=msgspec.json.encode(envelope(items[:4])),
                          headers={"content-type": "application/json"})
    assert r.status_code == 200
    answer = r.json()
    assert answer["accepted"] == 2
    assert [x["index"] for x in answer["rejected"]] == [1, 2]
    assert "items[1].ms" in answer["rejected"][0]["error"]
    assert "unknown type 'nope'" in answer["rejected"][1]["error"]
    r = await client.post(URL, content=body.replace(b'"type":"operation","ts"', b'"type":"operation","ts"', 1))
    assert r.status_code == 200
    assert len(stored(runtime)) == 2 + r.json()["accepted"]


async def test_infinity_is_rejected(client: httpx.AsyncClient) -> None:
    """A number out of float range (infinity) rejects that item with a clear reason."""
    raw = b'{"sent_at": %d, "items": [{"id": "a1", "type": "measurement", "ts": %d, "name": "x", "value": 1e999}]}' % (NOW, NOW)
    r = await client.post(URL, content=raw)
    assert r.status_code == 200
    assert "NaN and infinities" in r.json()["rejected"][0]["error"]


async def test_durations_are_clamped(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """Durations are clamped to 0..60000 ms as in the seed."""
    r = await client.post(URL, json=envelope([item(ms=-5, id="neg"), item(ms=999_999, id="big")]))
    assert r.json()["accepted"] == 2
    ms = {row["id"]: row["ms"] for row in stored(runtime)}
    assert ms == {"neg": 0.0, "big": 60_000.0}


async def test_replayed_batch_counts_duplicates(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """A replayed batch is answered with duplicates and stored once."""
    body = envelope([item() for _ in range(5)])
    first = (await client.post(URL, json=body)).json()
    again = (await client.post(URL, json={**body, "items": body["items"] + [item()]})).json()
    assert first == {"accepted": 5, "rejected": [], "duplicates": 0}
    assert again == {"accepted": 1, "rejected": [], "duplicates": 5}
    assert len(stored(runtime)) == 6


async def test_duplicate_ids_within_a_batch(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """The same id twice in one batch is stored once and counted once as duplicate."""
    one = item()
    r = await client.post(URL, json=envelope([one, dict(one)]))
    assert r.json() == {"accepted": 1, "rejected": [], "duplicates": 1}


async def test_clock_skew_is_corrected(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """Items are moved by server_now - sent_at; the client's raw time is kept too."""
    hour = 3_600_000
    r = await client.post(URL, json=envelope([item(ts=NOW - hour - 50, id="skewed")], sent_at=NOW - hour))
    assert r.json()["accepted"] == 1
    row = stored(runtime)[0]
    assert row["ts"] == NOW - 50
    assert row["client_ts"] == NOW - hour - 50


async def test_page_query_string_is_dropped(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """The page path is stored without its query string; the raw UA and IP are not stored."""
    await client.post(URL, json=envelope([item()], page="/doc?token=secret#x"),
                      headers={"user-agent": CHROME})
    row = stored(runtime)[0]
    assert row["page"] == "/doc"
    assert CHROME not in str(row.values())


async def test_gzip_body(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """A gzip body is accepted."""
    raw = gzip.compress(msgspec.json.encode(envelope([item(), item()])))
    r = await client.post(URL, content=raw, headers={"content-encoding": "gzip",
                                                    "content-type": "text/plain"})
    assert r.json()["accepted"] == 2


async def test_gzip_bomb_is_413(client: httpx.AsyncClient) -> None:
    """A small gzip body that inflates past the limit is refused with 413."""
    bomb = gzip.compress(b"[" + b" " * (5 << 20) + b"]")
    assert len(bomb) < 1 << 20
    r = await client.post(URL, content=bomb, headers={"content-encoding": "gzip"})
    assert r.status_code == 413
    assert "inflates" in r.json()["error"]


async def test_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    """A body over 1 MiB is refused with 413."""
    r = await client.post(URL, content=b"x" * ((1 << 20) + 1))
    assert r.status_code == 413


async def test_unknown_key_is_401(client: httpx.AsyncClient) -> None:
    """An unknown key is 401; the key may come as a header."""
    assert (await client.post("/api/v1/ingest?key=nope", json=envelope([item()]))).status_code == 401
    r = await client.post("/api/v1/ingest", json=envelope([item()]), headers={"x-wasmwatch-key": KEY})
    assert r.status_code == 200


async def test_wrong_content_type_is_415(client: httpx.AsyncClient) -> None:
    """A form body is 415 naming the content type."""
    r = await client.post(URL, content=b"a=b", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    assert "application/x-www-form-urlencoded" in r.json()["error"]


async def test_malformed_bodies_are_400(client: httpx.AsyncClient) -> None:
    """Malformed JSON, a non-object and a missing items array are 400s naming the problem."""
    for body, needle in [(b"{", "malformed"), (b"[1]", "object"), (b'{"context": {}}', "items"),
                         (b'{"items": {}}', "array"), (b"", "empty")]:
        r = await client.post(URL, content=body)
        assert r.status_code == 400, body
        assert needle in r.json()["error"], (body, r.json())


async def test_too_many_items_is_400(client: httpx.AsyncClient) -> None:
    """More than 1000 items in one batch is a 400."""
    r = await client.post(URL, json=envelope([item() for _ in range(1001)]))
    assert r.status_code == 400


async def test_cors_preflight(client: httpx.AsyncClient) -> None:
    """A preflight from another origin is allowed and exposes Retry-After."""
    r = await client.options(URL, headers={"origin": "http://app.example",
                                            "access-control-request-method": "POST"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "http://app.example"
    assert "retry-after" in r.headers["access-control-expose-headers"]


async def test_old_and_future_items_are_rejected(client: httpx.AsyncClient) -> None:
    """Items older than retention or more than a day ahead are rejected by index."""
    day = 86_400_000
    r = await client.post(URL, json=envelope([item(ts=NOW - 31 * day), item(ts=NOW + 2 * day), item()]))
    answer = r.json()
    assert answer["accepted"] == 1
    assert [x["index"] for x in answer["rejected"]] == [0, 1]


async def test_error_fingerprint_and_frame(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """Errors get their top wasm frame and a fingerprint that ignores numbers in messages."""
    stack = "RuntimeError: divide by zero\n    at divide (wasm://wasm/0a1b:wasm-function[3]:0x5c)"
    await client.post(URL, json=envelope([
        item("error", kind="RuntimeError", message="divide by zero at 12", stack=stack, category="runtime"),
        item("error", kind="RuntimeError", message="divide by zero at 99", stack=stack, category="runtime"),
    ]))
    rows = stored(runtime)
    assert {r["frame"] for r in rows} == {"divide wasm-function[3]:0x5c"}
    assert len({r["fingerprint"] for r in rows}) == 1

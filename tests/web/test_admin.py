"""The projects and keys admin API over HTTP: create, list, change, revoke, and what it refuses."""

from __future__ import annotations

import httpx

from tests.conftest import KEY, envelope, item


async def ingest(client: httpx.AsyncClient, key: str, **headers: str) -> httpx.Response:
    return await client.post(f"/api/v1/ingest?key={key}", json=envelope([item()]), headers=headers)


async def create(client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, object]) -> dict[str, object]:
    r = await client.post("/api/v1/projects", json=body, headers=admin)
    assert r.status_code == 201, r.text
    answer: dict[str, object] = r.json()
    return answer


async def test_default_project_is_listed_with_its_key(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """GET /api/v1/projects lists the default project; its key is the configured one."""
    body = (await client.get("/api/v1/projects", headers=admin)).json()
    assert [p["id"] for p in body["projects"]] == ["default"]
    assert body["projects"][0]["active_keys"] == 1
    keys = (await client.get("/api/v1/projects/default/keys", headers=admin)).json()["keys"]
    assert [(k["key"], k["label"], k["active"]) for k in keys] == [(KEY, "default", True)]


async def test_created_project_key_ingests_into_that_project(client: httpx.AsyncClient,
                                                             admin: dict[str, str]) -> None:
    """A new project comes with a key; items sent with it are stored under that project."""
    made = await create(client, admin, {"id": "shop", "name": "The shop", "label": "web"})
    key = made["key"]["key"]  # type: ignore[index]
    assert made["project"]["name"] == "The shop"  # type: ignore[index]
    assert (await ingest(client, key)).json()["accepted"] == 1
    mine = (await client.get("/api/v1/items?project=shop", headers=admin)).json()
    assert mine["count"] == 1 and mine["items"][0]["project"] == "shop"
    assert (await client.get("/api/v1/items", headers=admin)).json()["count"] == 0


async def test_revoked_key_fails_on_the_next_request(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """DELETE /api/v1/keys/{key} makes the very next ingest with it a 401; other keys still work."""
    r = await client.post("/api/v1/projects/default/keys", json={"label": "ci"}, headers=admin)
    assert r.status_code == 201
    extra = r.json()["key"]
    assert (await ingest(client, extra)).status_code == 200
    revoked = await client.delete(f"/api/v1/keys/{extra}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert revoked.json()["revoked_at"] is not None
    denied = await ingest(client, extra)
    assert denied.status_code == 401 and "revoked" in denied.json()["error"]
    assert (await ingest(client, KEY)).status_code == 200
    listed = {k["key"]: k["active"] for k in (await client.get("/api/v1/keys", headers=admin)).json()["keys"]}
    assert listed == {KEY: True, extra: False}


async def test_second_revoke_keeps_the_first_time(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Revoking twice answers 200 with the first revocation time; an unknown key is 404."""
    first = (await client.delete(f"/api/v1/keys/{KEY}", headers=admin)).json()["revoked_at"]
    again = await client.delete(f"/api/v1/keys/{KEY}", headers=admin)
    assert again.status_code == 200 and again.json()["revoked_at"] == first
    assert (await client.delete("/api/v1/keys/pk_nope", headers=admin)).status_code == 404


async def test_allowed_origins_are_per_project(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """A project's origins bind its keys only; PATCH changes them at once; [] means any."""
    made = await create(client, admin, {"id": "app", "allowed_origins": ["https://app.example"]})
    key = made["key"]["key"]  # type: ignore[index]
    assert (await ingest(client, key, origin="https://app.example")).status_code == 200
    assert (await ingest(client, key, origin="https://evil.example")).status_code == 403
    assert (await ingest(client, KEY, origin="https://evil.example")).status_code == 200
    r = await client.patch("/api/v1/projects/app", json={"allowed_origins": ["https://evil.example"]},
                           headers=admin)
    assert r.status_code == 200 and r.json()["allowed_origins"] == ["https://evil.example"]
    assert (await ingest(client, key, origin="https://app.example")).status_code == 403
    await client.patch("/api/v1/projects/app", json={"allowed_origins": []}, headers=admin)
    assert (await ingest(client, key, origin="https://app.example")).status_code == 200


async def test_bad_requests_are_named(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Bad ids, origins and fields get 400 naming them; a taken id 409; unknown project 404."""
    cases = [({"id": "Bad Id"}, "id"), ({"id": "x", "allowed_origins": ["app.example/path"]}, "allowed_origins"),
             ({"id": "x", "colour": "red"}, "colour"), ({}, "id")]
    for body, word in cases:
        r = await client.post("/api/v1/projects", json=body, headers=admin)
        assert r.status_code == 400 and word in r.json()["error"], (body, r.text)
    r = await client.post("/api/v1/projects", content=b"{", headers=admin)
    assert r.status_code == 400 and "malformed" in r.json()["error"]
    assert (await client.post("/api/v1/projects", json={"id": "default"}, headers=admin)).status_code == 409
    assert (await client.post("/api/v1/projects/none/keys", json={}, headers=admin)).status_code == 404
    assert (await client.get("/api/v1/projects/none", headers=admin)).status_code == 404
    assert (await client.patch("/api/v1/projects/none", json={}, headers=admin)).status_code == 404
    assert (await client.get("/api/v1/projects/default/x", headers=admin)).status_code == 404
    wrong = await client.patch("/api/v1/projects/default/keys", json={}, headers=admin)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, POST, HEAD"


async def test_admin_api_needs_the_admin_token(client: httpx.AsyncClient) -> None:
    """Every admin route answers 401 without the token."""
    for method, path in (("GET", "/api/v1/projects"), ("POST", "/api/v1/projects"),
                         ("GET", "/api/v1/projects/default"), ("GET", "/api/v1/projects/default/keys"),
                         ("GET", "/api/v1/keys"), ("DELETE", f"/api/v1/keys/{KEY}")):
        assert (await client.request(method, path)).status_code == 401, path
    assert (await ingest(client, KEY)).status_code == 200


async def test_openapi_describes_the_admin_api(client: httpx.AsyncClient) -> None:
    """/openapi.json has every admin path and the request body schemas."""
    doc = (await client.get("/openapi.json")).json()
    assert {"get", "post"} <= set(doc["paths"]["/api/v1/projects"])
    assert "patch" in doc["paths"]["/api/v1/projects/{id}"]
    assert {"get", "post"} <= set(doc["paths"]["/api/v1/projects/{id}/keys"])
    assert "delete" in doc["paths"]["/api/v1/keys/{key}"]
    assert doc["components"]["schemas"]["NewProject"]["required"] == ["id"]
    for path in ("/api/v1/summary", "/api/v1/series", "/api/v1/errors", "/api/v1/items", "/api/v1/stream"):
        op = doc["paths"][path]["get"]
        assert "project" in [p["name"] for p in op["parameters"]] and "404" in op["responses"], path

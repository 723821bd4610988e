"""Tests for wasmwatch.store.projects: the 0.1 migration and the default project's key."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.conftest import envelope, item, settings_for
from wasmwatch.clock import ManualClock
from wasmwatch.errors import ConfigError
from wasmwatch.runtime import Runtime
from wasmwatch.store import projects as tables
from wasmwatch.web.app import App

OLD = Path(__file__).parent / "data" / "v0.1.0-wasmwatch.duckdb.gz"
OLD_KEY = "pk_yPcufPzhctUfJK1uzPHvmSJZ"
OLD_TOKEN = "adm_gP7DAJ55mOAiELJm4zGuBP3-i-C76tBR"
OLD_NOW = 1796120972772 + 60_000
NOW = 1_764_000_000_000


def old_data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "wasmwatch.duckdb").write_bytes(gzip.decompress(OLD.read_bytes()))
    return data


async def test_data_dir_of_0_1_keeps_key_origins_token_and_items(tmp_path: Path) -> None:
    """A 0.1 data dir opens with its key, origins, admin token and items, in the new tables."""
    data = old_data_dir(tmp_path)
    settings = settings_for(data, ingest_key=None, admin_token=None)
    rt = Runtime(settings, clock=ManualClock(OLD_NOW))
    await rt.start()
    try:
        assert rt.admin_token == OLD_TOKEN and rt.keyring.default_key == OLD_KEY
        transport = httpx.ASGITransport(app=App(rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            admin = {"authorization": f"Bearer {OLD_TOKEN}"}
            old = (await c.get("/api/v1/items", params={"window": "1h"}, headers=admin)).json()
            assert sorted(r["id"] for r in old["items"]) == ["old-0", "old-1", "old-2", "old-3",
                                                               "old-4", "old-err"]
            body = envelope([item(ts=OLD_NOW)], sent_at=OLD_NOW)
            ok = await c.post(f"/api/v1/ingest?key={OLD_KEY}", json=body,
                              headers={"origin": "https://app.example"})
            assert ok.status_code == 200
            evil = await c.post(f"/api/v1/ingest?key={OLD_KEY}", json=body,
                                headers={"origin": "https://evil.example"})
            assert evil.status_code == 403
            keys = (await c.get("/api/v1/keys", headers=admin)).json()["keys"]
            assert [(k["key"], k["project"], k["label"]) for k in keys] == [(OLD_KEY, "default", "default")]
    finally:
        await rt.stop()
    con = duckdb.connect(str(data / "wasmwatch.duckdb"), read_only=True)
    columns = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                         "WHERE table_name = 'projects'").fetchall()}
    con.close()
    assert columns == {"id", "name", "allowed_origins", "created_at"}


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    tables.migrate(con)
    return con


def test_given_key_replaces_the_previous_default_key() -> None:
    """Setting another ingest_key revokes the old default key, as 0.1's replacement did;
    keys made through the API are left alone."""
    con = connect()
    tables.ensure_default(con, "pk_one", [], NOW)
    extra = tables.create_key(con, "default", "ci", NOW)
    tables.ensure_default(con, "pk_one", [], NOW + 1)
    tables.ensure_default(con, "pk_two", [], NOW + 2)
    state = {k.key: k.revoked_at for k in tables.keys(con)}
    assert state == {"pk_one": NOW + 2, extra.key: None, "pk_two": None}


def test_no_key_given_makes_one_only_on_first_start() -> None:
    """Without ingest_key a key is made once; when every key was revoked none comes back."""
    con = connect()
    tables.ensure_default(con, None, [], NOW)
    (made,) = tables.keys(con)
    assert made.key.startswith("pk_") and made.label == "default"
    tables.revoke_key(con, made.key, NOW + 1)
    tables.ensure_default(con, None, [], NOW + 2)
    assert [k.key for k in tables.keys(con)] == [made.key]


def test_revoked_or_foreign_key_in_settings_is_refused() -> None:
    """A revoked key, or another project's key, given as ingest_key stops the start."""
    con = connect()
    tables.ensure_default(con, "pk_one", [], NOW)
    tables.revoke_key(con, "pk_one", NOW)
    with pytest.raises(ConfigError, match="revoked"):
        tables.ensure_default(con, "pk_one", [], NOW)
    _, shop = tables.create_project(con, "shop", "shop", [], NOW)
    with pytest.raises(ConfigError, match="project shop"):
        tables.ensure_default(con, shop.key, [], NOW)


def test_given_origins_replace_none_keep() -> None:
    """allowed_origins from settings replace the stored ones; an empty setting keeps them."""
    con = connect()
    tables.ensure_default(con, "k", ["https://a.example"], NOW)
    assert tables.ensure_default(con, "k", [], NOW).allowed_origins == ("https://a.example",)
    assert tables.ensure_default(con, "k", ["https://b.example"], NOW).allowed_origins == ("https://b.example",)


async def test_revoked_settings_key_is_a_clean_start_error(tmp_path: Path, clock: ManualClock) -> None:
    """The server refuses to start on a revoked ingest_key with a ConfigError naming it."""
    rt = Runtime(settings_for(tmp_path / "data"), clock=clock)
    await rt.start()
    key = rt.keyring.default_key
    assert key is not None
    await rt.project_admin.revoke_key(key, clock.now_ms())
    await rt.stop()
    again = Runtime(settings_for(tmp_path / "data"), clock=clock)
    with pytest.raises(ConfigError, match="ingest_key was revoked"):
        await again.start()

"""The store setting: URLs for DuckDB, a ClickHouse server and chdb; bad ones say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasmwatch.errors import ConfigError
from wasmwatch.store.url import StoreURL, parse_store_url

DATA = Path("/srv/ww")


def test_empty_is_duckdb_in_the_data_dir() -> None:
    """No store setting: the embedded DuckDB file in the data dir."""
    assert parse_store_url("", DATA) == StoreURL("duckdb", DATA)
    assert parse_store_url("duckdb:///var/lib/ww", DATA).path == Path("/var/lib/ww")


def test_clickhouse_url_parts() -> None:
    """User, password, host, port and database come from the URL; the password is never shown."""
    url = parse_store_url("clickhouse://ww:s%40cret@ch1.internal:8123/telemetry", DATA)
    assert (url.user, url.password, url.host, url.port, url.database) == (
        "ww", "s@cret", "ch1.internal", 8123, "telemetry")
    assert "s@cret" not in url.redacted() and "cret" not in url.redacted()
    assert parse_store_url("clickhouses://h", DATA)[2:4] == ("h", 8443)
    assert parse_store_url("clickhouse://h", DATA).database == "wasmwatch"


def test_chdb_path() -> None:
    """chdb:///path is the engine's directory."""
    assert parse_store_url("chdb:///tmp/ch", DATA) == StoreURL("chdb", Path("/tmp/ch"))


@pytest.mark.parametrize(("url", "reason"), [
    ("postgres://h/db", "expected a URL"), ("chdb://relative/path", "three slashes"),
    ("clickhouse:///db", "needs a host"), ("clickhouse://h:99999/db", "bad port"),
    ("clickhouse://h/bad-name;", "database name"),
])
def test_bad_urls_say_why(url: str, reason: str) -> None:
    """An unusable store URL stops the start with the reason."""
    with pytest.raises(ConfigError, match=reason):
        parse_store_url(url, DATA)

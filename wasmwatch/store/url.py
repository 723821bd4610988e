"""The ``store`` setting: which store a server uses, as a URL.

* ``duckdb:///path`` (or empty, the default): the embedded DuckDB store; ``path`` is a
  directory (the data dir when empty).
* ``clickhouse://user:pass@host:8123/db`` (``clickhouses://`` for TLS, port 8443): a ClickHouse
  server over HTTP, database ``db`` (default ``wasmwatch``).
* ``chdb:///path``: the ClickHouse engine in process (chdb), its data in the directory
  ``path``; for tests and single-machine trials of the ClickHouse store.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from wasmwatch.errors import ConfigError

__all__ = ["StoreURL", "parse_store_url"]

KINDS = ("duckdb", "clickhouse", "chdb")
DEFAULT_DATABASE = "wasmwatch"


class StoreURL(NamedTuple):
    kind: str
    path: Path | None = None
    host: str = ""
    port: int = 0
    user: str = "default"
    password: str = ""
    database: str = DEFAULT_DATABASE
    secure: bool = False

    def redacted(self) -> str:
        """The URL without its password, for logs and the banner."""
        if self.kind in ("duckdb", "chdb"):
            return f"{self.kind}://{self.path}"
        scheme = "clickhouses" if self.secure else "clickhouse"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.database}"


def parse_store_url(url: str, data_dir: Path) -> StoreURL:
    """Read the ``store`` setting; an unusable URL raises :class:`ConfigError` saying why."""
    if not url:
        return StoreURL("duckdb", data_dir)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("duckdb", "chdb"):
        if parts.netloc:
            raise ConfigError(f"store {url!r}: write {scheme}:///absolute/path (three slashes)")
        path = Path(unquote(parts.path)) if parts.path not in ("", "/") else data_dir
        if scheme == "chdb" and path == data_dir:
            path = data_dir / "chdb"
        return StoreURL(scheme, path)
    if scheme in ("clickhouse", "clickhouses"):
        if not parts.hostname:
            raise ConfigError(f"store {url!r}: a ClickHouse URL needs a host")
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"store {url!r}: bad port") from exc
        secure = scheme == "clickhouses"
        database = unquote(parts.path.strip("/")) or DEFAULT_DATABASE
        if not database.replace("_", "").isalnum():
            raise ConfigError(f"store {url!r}: database name must be letters, digits and _")
        return StoreURL("clickhouse", None, parts.hostname, port or (8443 if secure else 8123),
                        unquote(parts.username or "default"), unquote(parts.password or ""),
                        database, secure)
    raise ConfigError(f"store {url!r}: expected a URL starting duckdb://, clickhouse:// or chdb://")

"""The process-wide client that middleware and hooks use when given none."""

from __future__ import annotations

from typing import Any

from wasmwatch.client._client import Client

__all__ = ["get_client", "init", "set_client"]

_client: Client | None = None


def init(endpoint: str, key: str, *, service: str, **options: Any) -> Client:
    """Make the process-wide client (options as :class:`Client` takes them) and return it."""
    client = Client(endpoint, key, service=service, **options)
    set_client(client)
    return client


def set_client(client: Client | None) -> None:
    global _client
    _client = client


def get_client() -> Client | None:
    return _client

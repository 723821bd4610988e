"""Exceptions of wasmwatch, and the HTTP status each one maps to.

    WasmWatchError
    ├── ConfigError               settings that cannot be used (at start, not over HTTP)
    ├── StartupError              the port is taken, the host unknown, the data dir unusable
    ├── StoreError                the store failed; ingest answers 503, queries 503
    └── ClientError               something a client sent; always a 4xx, never a 500
        ├── BadRequest            400: malformed body, bad parameter
        ├── Unauthorized          401: unknown ingest key, missing or wrong admin token
        ├── Forbidden             403: origin not allowed for the project
        ├── NotFound              404
        ├── MethodNotAllowed      405
        ├── RequestTimeout        408: the body did not arrive in time (the connection closes)
        ├── Conflict              409: the project exists already
        ├── PayloadTooLarge       413: body over the limit, before or after gunzip
        ├── UnsupportedMediaType  415
        └── Backpressure          429 / 503 with Retry-After
            ├── RateLimited       429: a project's, key's or address's rate is spent,
            │                     or too many failed admin attempts from one address
            └── QueueFull         503: the write queue is full

Library errors become ours at the boundary with ``raise ... from exc``; the web layer maps a
``ClientError`` to its status in one place (``wasmwatch.web.app``).
"""

from __future__ import annotations


class WasmWatchError(Exception):
    """Base of every wasmwatch error."""


class ConfigError(WasmWatchError):
    pass


class StartupError(WasmWatchError):
    pass


class StoreError(WasmWatchError):
    pass


class ClientError(WasmWatchError):
    status = 400
    headers: dict[str, str] = {}

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ClientError):
    status = 400


class Unauthorized(ClientError):
    status = 401


class Forbidden(ClientError):
    status = 403


class NotFound(ClientError):
    status = 404


class MethodNotAllowed(ClientError):
    status = 405

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = headers or {}


class RequestTimeout(ClientError):
    status = 408
    headers = {"connection": "close"}


class Conflict(ClientError):
    status = 409


class PayloadTooLarge(ClientError):
    status = 413


class UnsupportedMediaType(ClientError):
    status = 415


class Backpressure(ClientError):
    reason = "backpressure"

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = {"retry-after": str(max(1, round(retry_after_s + 0.499)))}


class RateLimited(Backpressure):
    status = 429
    reason = "rate_limited"


class QueueFull(Backpressure):
    status = 503
    reason = "queue_full"

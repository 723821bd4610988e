"""The running server's parts, built from settings and owned in one place.

``Runtime`` opens the store, makes the default project and the secrets on first start,
starts the writer and the background loops, and closes them in order: on stop, everything
accepted is committed before the store closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import duckdb
import prometheus_client

from wasmwatch import live
from wasmwatch.clock import Clock, SystemClock
from wasmwatch.config import Settings, data_path
from wasmwatch.errors import Forbidden, StoreError, Unauthorized
from wasmwatch.ingest.pipeline import Pipeline
from wasmwatch.ingest.ratelimit import RateLimiter
from wasmwatch.live import LiveHub
from wasmwatch.query import rollup
from wasmwatch.store import layout
from wasmwatch.store.duckdb import DuckDBStore, Project
from wasmwatch.store.writer import Writer
from wasmwatch.telemetry import (
    ClientMetrics,
    Poller,
    attach_server_metrics,
    default_bus,
    detach_server_metrics,
)
from wasmwatch.web.http import Request

log = logging.getLogger(__name__)
_DAY_MS = 86_400_000


class Runtime:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.data_dir: Path = data_path(settings)
        self.pipeline = Pipeline(retention_days=settings.retention_days,
                                 skew_tolerance_ms=settings.skew_tolerance_ms)
        self.limiter = RateLimiter(settings.rate_limit)
        self.registry = prometheus_client.CollectorRegistry(auto_describe=True)
        self.live = LiveHub()
        self.store: DuckDBStore | None = None
        self._writer: Writer | None = None
        self.projects: dict[str, Project] = {}
        self.admin_token = ""
        self.first_start = False
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    @property
    def writer(self) -> Writer:
        if self._writer is None:
            raise StoreError("the server is not started")
        return self._writer

    def open_store(self) -> DuckDBStore:
        self.first_start = not (self.data_dir / "wasmwatch.duckdb").exists()
        store = DuckDBStore(
            self.data_dir, ddl=rollup.ROLLUP_DDL, after_insert=[rollup.apply],
            maintenance=[_rollup_maintenance], recover=[rollup.rebuild],
            aggregate_columns=rollup.SOURCE_COLUMNS,
            memory_limit_mb=self.settings.store_memory_mb,
            seen_filter_bytes=self.settings.seen_filter_mb << 20,
        )
        if store.upgraded:
            log.warning("data dir upgraded to storage layout %d", layout.LAYOUT_VERSION)
        now = self.clock.now_ms()
        if store.recover(now):
            log.warning("the last stop was not clean: rollups rebuilt from raw items")
        project = store.ensure_default_project(self.settings.ingest_key,
                                               self.settings.allowed_origins, now)
        self.projects = {p.ingest_key: p for p in store.projects()} | {project.ingest_key: project}
        self.admin_token = store.secret("admin_token", self.settings.admin_token, "adm_")
        return store

    async def start(self) -> None:
        self.store = await asyncio.to_thread(self.open_store)
        client_metrics = ClientMetrics(self.registry, max_tag_values=self.settings.max_tag_values)
        self._writer = Writer(
            self.store, queue_max_items=self.settings.queue_max_items,
            queue_max_bytes=self.settings.queue_max_mb << 20,
            commit_max_items=self.settings.commit_max_items,
            on_commit=[client_metrics.observe, self.live.publish],
            commit_columns=tuple(dict.fromkeys((*client_metrics.columns, *live.COLUMNS))),
        )
        attach_server_metrics(default_bus, self.registry, lambda: self.writer.depth,
                              max_label_values=self.settings.max_tag_values)
        self._writer.start()
        poller = Poller(self.registry)
        self._spawn(poller.run(self.settings.poll_interval_s, self._stop), "poller")
        self._spawn(self._every(self.settings.maintenance_interval_s, self.retain), "maintenance")

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro, name=name))  # type: ignore[arg-type]

    async def _every(self, interval_s: float, fn: Callable[[], Awaitable[object]]) -> None:
        while not self._stop.is_set():
            try:
                await fn()
            except Exception:
                log.exception("background job %s failed", getattr(fn, "__name__", fn))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval_s)

    async def retain(self) -> int:
        """Delete raw items past the retention period; on the writer thread, between commits."""
        if self.store is None:
            return 0
        deleted = await self.writer.run_exclusive(
            self.store.maintain, self.clock.now_ms(), self.settings.retention_days * _DAY_MS
        )
        if deleted:
            log.info("retention deleted %d items", deleted)
        return deleted

    async def stop(self) -> None:
        """Commit what was accepted, stop the loops, close the store."""
        self._stop.set()
        self.live.close()
        if self._writer is not None:
            await self._writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        detach_server_metrics(default_bus)
        if self.store is not None:
            self.store.close()

    # -- authorization ---------------------------------------------------------------------

    def authorize_ingest(self, request: Request) -> Project:
        key = request.query.get("key") or request.headers.get("x-wasmwatch-key")
        if not key:
            raise Unauthorized("missing ingest key: pass ?key= or the X-WasmWatch-Key header")
        project = self.projects.get(key)
        if project is None:
            raise Unauthorized("unknown ingest key")
        origin = request.headers.get("origin")
        if project.allowed_origins and origin and origin not in project.allowed_origins:
            raise Forbidden(f"origin {origin} is not allowed for this project")
        return project

    def authorize_admin(self, request: Request) -> None:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else request.query.get("token")
        if not token:
            raise Unauthorized("missing admin token: send Authorization: Bearer <token>")
        if not _same(token, self.admin_token):
            raise Unauthorized("wrong admin token")


def _rollup_maintenance(con: duckdb.DuckDBPyConnection, now_ms: int, cutoff_ms: int) -> None:
    rollup.compact(con, now_ms)
    rollup.delete_before(con, cutoff_ms)


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())

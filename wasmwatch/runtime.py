"""The running server's parts, built from settings and owned in one place.

``Runtime`` opens the store, makes the default project and the secrets on first start,
starts the writer and the background loops, and closes them in order: on stop, everything
accepted is committed before the store closes, and what could not be done is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import msgspec
import prometheus_client

from wasmwatch import memory
from wasmwatch.alerts.evaluate import COLUMNS as ALERT_COLUMNS
from wasmwatch.alerts.service import AlertService
from wasmwatch.clock import Clock, SystemClock
from wasmwatch.config import Settings, data_path
from wasmwatch.errors import ConfigError, RateLimited, StoreError, Unauthorized
from wasmwatch.guard import FailureGuard
from wasmwatch.ingest import useragent
from wasmwatch.ingest.pipeline import Pipeline
from wasmwatch.ingest.ratelimit import RateLimiter
from wasmwatch.ingest.scrub import ScrubbedCollector, Scrubber
from wasmwatch.live import COLUMNS as LIVE_COLUMNS
from wasmwatch.live import LiveHub
from wasmwatch.projects import Keyring, Project, ProjectAdmin
from wasmwatch.query import rollup
from wasmwatch.query.cache import SpanCache
from wasmwatch.query.warm import warmer
from wasmwatch.store import layout, reorder
from wasmwatch.store import projects as project_tables
from wasmwatch.store.duckdb import DuckDBStore
from wasmwatch.store.tail import Tail
from wasmwatch.store.url import parse_store_url
from wasmwatch.store.writer import Writer
from wasmwatch.telemetry import (
    AlreadyAttachedError,
    ClientMetrics,
    Poller,
    attach_server_metrics,
    default_bus,
    detach_server_metrics,
)
from wasmwatch.web.address import TrustedProxies, client_address
from wasmwatch.web.http import Request

if TYPE_CHECKING:  # the clickhouse extra is imported only when a store URL asks for it
    from wasmwatch.store.clickhouse import ClickHouseStore

log = logging.getLogger(__name__)
_DAY_MS = 86_400_000
_IDLE_TICK_S = 5.0  # how often the trim task looks at the process's idleness, at most


class Runtime:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        if settings.role == "ingest":  # stateless: no dashboard, no demo (the evaluator has them)
            settings = msgspec.structs.replace(settings, dashboard=False, demo=False)
        self.settings = settings
        self.role = settings.role
        self.clock: Clock = clock or SystemClock()
        self.data_dir: Path = data_path(settings)
        self.store_url = parse_store_url(settings.store, self.data_dir)
        if self.role != "all" and self.store_url.kind == "duckdb":
            raise ConfigError(f"role {self.role} needs a shared store: set store to a "
                              "clickhouse:// URL (a DuckDB file serves one node, role all)")
        self.scrubber = Scrubber(settings.scrub_patterns)
        self.pipeline = Pipeline(retention_days=settings.retention_days,
                                 skew_tolerance_ms=settings.skew_tolerance_ms, scrubber=self.scrubber)
        self.limiter = RateLimiter(settings.rate_limit)
        self.key_limiter = RateLimiter(settings.key_rate_limit)
        self.address_limiter = RateLimiter(settings.address_rate_limit,
                                           max_keys=settings.address_table_max)
        self.auth_failures = FailureGuard(settings.admin_max_failures,
                                          settings.admin_failure_window_s,
                                          settings.address_table_max)
        self.trusted_proxies = TrustedProxies(settings.trusted_proxies)
        self.registry = prometheus_client.CollectorRegistry(auto_describe=True)
        self.registry.register(ScrubbedCollector(self.scrubber))
        self.live = LiveHub()
        #: alerting; rules are checked here, so a bad one stops the start (ConfigError)
        self.alerts = AlertService(settings, self.clock, self.registry, self.live.send)
        self.store: DuckDBStore | ClickHouseStore | None = None
        #: rollup spans of recent summaries (DuckDB store only; kept exact by its flush hook)
        self.span_cache: SpanCache | None = None
        self._writer: Writer | None = None
        self.keyring = Keyring()
        self._admin: ProjectAdmin | None = None
        self.admin_token = ""
        self.first_start = False
        self._tasks: list[asyncio.Task[None]] = []
        self._metrics_attached = False
        self._stop = asyncio.Event()
        #: when to page out (never when memory_pageout_idle_s is 0)
        self._idle = memory.IdleSpell(settings.memory_pageout_idle_s or float("inf"))
        self._trimmed = 0.0

    @property
    def writer(self) -> Writer:
        if self._writer is None:
            raise StoreError("the server is not started")
        return self._writer

    @property
    def project_admin(self) -> ProjectAdmin:
        if self._admin is None:
            raise StoreError("the server is not started")
        return self._admin

    def open_store(self) -> DuckDBStore | ClickHouseStore:
        # ua-parser compiles its regexes on first use (~0.2 s): pay that here, not in a request
        useragent.warm_up()
        if self.store_url.kind != "duckdb":
            return self._open_clickhouse()
        assert self.store_url.path is not None
        self.first_start = not (self.store_url.path / "wasmwatch.duckdb").exists()
        cache = self.span_cache = SpanCache()

        def maintain(con: duckdb.DuckDBPyConnection, now_ms: int, cutoff_ms: int) -> None:
            cache.forget_before(cutoff_ms)  # before the rollup's retention deletes buckets
            _rollup_maintenance(con, now_ms, cutoff_ms)

        store = DuckDBStore(
            self.store_url.path, ddl=rollup.ROLLUP_DDL, after_insert=[cache.record, rollup.apply],
            maintenance=[maintain], recover=[rollup.rebuild],
            aggregate_columns=rollup.SOURCE_COLUMNS,
            memory_limit_mb=self.settings.store_memory_mb,
            seen_filter_bytes=self.settings.seen_filter_mb << 20,
        )
        if store.upgraded:
            log.warning("data dir upgraded to storage layout %d", layout.LAYOUT_VERSION)
            store.catalog(rollup.mark_complete)  # the old rollup already held the old rows
        if store.catalog(rollup.add_split):
            log.warning("rollup histograms given the first-vs-cached split")
        now = self.clock.now_ms()
        if store.recover(now):
            log.warning("the last stop was not clean: rollups rebuilt from raw items")
        try:
            store.catalog(lambda con: project_tables.ensure_default(
                con, self.settings.ingest_key, self.settings.allowed_origins, now))
        except BaseException:
            store.close()
            raise
        self.keyring.load(store.catalog(project_tables.snapshot))
        self.admin_token = store.secret("admin_token", self.settings.admin_token, "adm_")
        # ids holding a secret become a hash keyed per data dir: the same after a restart
        self.scrubber.id_key = store.secret("scrub_id_key", None, "").encode()
        return store

    def _open_clickhouse(self) -> ClickHouseStore:
        """The shared store of a scale-out deployment; only an evaluator changes projects."""
        from wasmwatch.store.clickhouse import ClickHouseStore

        store = ClickHouseStore(self.store_url, self.data_dir,
                                retention_days=self.settings.retention_days,
                                local_state=self.role != "ingest")
        try:
            if self.role != "ingest":
                now = self.clock.now_ms()
                store.catalog(lambda con: project_tables.ensure_default(
                    con, self.settings.ingest_key, self.settings.allowed_origins, now))
            self.keyring.load(store.snapshot())
            self.admin_token = store.secret("admin_token", self.settings.admin_token, "adm_")
            self.scrubber.id_key = store.secret("scrub_id_key", None, "").encode()
        except BaseException:
            store.close()
            raise
        return store

    async def _refresh_keys(self) -> None:
        """An ingest node: take the evaluator's changes to projects and keys."""
        store = self.store
        if store is not None and self.store_url.kind != "duckdb":
            self.keyring.load(await asyncio.to_thread(store.snapshot))  # type: ignore[union-attr]

    async def _follow(self, tail: Tail) -> None:
        """A separate evaluator: feed what ingest nodes committed to alerts and the stream."""
        rows = await asyncio.to_thread(tail.poll)
        if rows is not None:
            for hook in (self.live.publish, self.alerts.on_commit):
                hook(rows)

    async def start(self) -> None:
        self.store = await asyncio.to_thread(self.open_store)
        client_metrics = ClientMetrics(self.registry, max_tag_values=self.settings.max_tag_values)
        self._writer = Writer(
            self.store, queue_max_items=self.settings.queue_max_items,
            queue_max_bytes=self.settings.queue_max_mb << 20,
            commit_max_items=self.settings.commit_max_items,
            on_commit=[client_metrics.observe, self.live.publish,
                       *([] if self.role == "ingest" else [self.alerts.on_commit])],
            # only what the hooks read becomes Row fields (the rest stays None for them)
            commit_columns=tuple(dict.fromkeys(
                (*client_metrics.columns, *LIVE_COLUMNS, *ALERT_COLUMNS))),
        )
        try:
            attach_server_metrics(default_bus, self.registry, lambda: self.writer.depth,
                                  max_label_values=self.settings.max_tag_values)
            self._metrics_attached = True
        except AlreadyAttachedError:  # a second node in this process (tests): the first reports
            self._metrics_attached = False
        self._writer.start()
        store = self.store
        self._admin = ProjectAdmin(
            self.keyring, lambda fn: self.writer.run_exclusive(store.catalog, fn))
        poller = Poller(self.registry)
        self._spawn(poller.run(self.settings.poll_interval_s, self._stop), "poller")
        if self.settings.memory_trim_interval_s > 0 or self.settings.memory_pageout_idle_s > 0:
            interval = self.settings.memory_trim_interval_s or _IDLE_TICK_S
            self._spawn(self._every(min(interval, _IDLE_TICK_S), self._trim), "trim")
        if self.role == "ingest":  # no evaluator, no retention: the evaluator and the TTL do it
            self._spawn(self._every(self.settings.key_refresh_s, self._refresh_keys), "keys")
            return
        await self.alerts.start(self.store.reader, self._writer.run_exclusive)
        self._spawn(self.alerts.run(self._stop), "alerts")
        self._spawn(self._every(self.settings.maintenance_interval_s, self.retain), "maintenance")
        if self.span_cache is not None:  # the long windows' first answers (query.warm)
            self._spawn(warmer(store.reader, self.span_cache, self.clock.now_ms,
                               lambda: self.writer.depth, self._stop), "warm")
        if self.role == "evaluator":
            tail = Tail(self.store, self.clock.now_ms())  # type: ignore[arg-type]
            self._spawn(self._every(self.settings.alert_eval_interval_s,
                                    lambda: self._follow(tail)), "follow")

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

    async def _trim(self) -> None:
        """Give freed heap memory back to the kernel while nothing waits to be committed, and
        the pages of the shared libraries once the process has been idle for a while."""
        waiting = self._writer.depth if self._writer is not None else 0
        now = time.monotonic()
        if self._idle.tick(now, time.process_time(), waiting):
            if useragent.release():  # ~9.5 MB of compiled regexes, freed by the trim below
                await asyncio.to_thread(memory.trim)
            released = await asyncio.to_thread(memory.page_out)
            log.info("idle for %.0f s: %s kB of library pages paged out",
                     self.settings.memory_pageout_idle_s, released)
        interval = self.settings.memory_trim_interval_s
        if not waiting and interval > 0 and now - self._trimmed >= interval:
            self._trimmed = now
            await asyncio.to_thread(memory.trim)

    async def retain(self) -> int:
        """Delete raw items past the retention period; on the writer thread, between commits."""
        if self.store is None:
            return 0
        deleted = await self.writer.run_exclusive(
            self.store.maintain, self.clock.now_ms(), self.settings.retention_days * _DAY_MS
        )
        if deleted:
            log.info("retention deleted %d items", deleted)
        await self.alerts.prune(self.clock.now_ms() - self.settings.retention_days * _DAY_MS)
        return deleted

    async def stop(self) -> list[str]:
        """Commit what was accepted, stop the loops, close the store.

        Returns what could not be done, one sentence each (empty after a clean stop).
        """
        self._stop.set()
        self.live.close()
        problems: list[str] = []
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self.alerts.flush()
            failed_before = self._writer.failed_items
            await self._writer.close()
            failed = self._writer.failed_items - failed_before
            if failed:
                problems.append(f"{failed} items waiting at stop could not be committed "
                                f"({self._writer.last_error}); their requests were answered 503")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._metrics_attached:
            detach_server_metrics(default_bus)
        await self.alerts.stop()
        await self.alerts.write_remaining()  # the writer thread is gone: nobody else writes
        if self.store is not None:
            problems += self.store.close()
        for problem in problems:
            log.error("stop: %s", problem)
        return problems

    def readiness(self) -> dict[str, str]:
        """Why the server cannot take writes now, by check; empty when it can.

        Checks: the store is open, the writer task runs, the most recent commit did not fail,
        the data dir's disk has ``ready_min_free_bytes`` free.
        """
        failing: dict[str, str] = {}
        if self.store is None or self.store.closed:
            failing["store"] = "the store is not open"
        if self._writer is None or not self._writer.alive:
            failing["writer"] = "the writer is not running"
        elif self._writer.last_error is not None:
            failing["commit"] = f"the last commit failed: {self._writer.last_error}"
        try:
            free = shutil.disk_usage(self.data_dir).free
        except OSError as exc:
            failing["disk"] = f"cannot read free space of {self.data_dir}: {exc}"
        else:
            if free < self.settings.ready_min_free_bytes:
                failing["disk"] = (f"{free} bytes free in {self.data_dir}, under the "
                                   f"{self.settings.ready_min_free_bytes}-byte minimum")
        return failing

    # -- authorization ---------------------------------------------------------------------

    def client_address(self, request: Request) -> str:
        return client_address(request.scope, request.headers, self.trusted_proxies)

    def authorize_ingest(self, request: Request) -> Project:
        key = request.query.get("key") or request.headers.get("x-wasmwatch-key")
        return self.keyring.authorize(key, request.headers.get("origin"))

    def authorize_admin(self, request: Request) -> None:
        self._check_token(request, self.admin_token, "admin")

    def authorize_metrics(self, request: Request) -> None:
        """/metrics is open unless ``metrics_token`` is set."""
        if self.settings.metrics_token:
            self._check_token(request, self.settings.metrics_token, "metrics")

    def _check_token(self, request: Request, expected: str, what: str) -> None:
        """Constant-time comparison; an address that fails too often gets 429 for a while."""
        address = self.client_address(request)
        now_s = self.clock.now_ms() / 1000
        wait = self.auth_failures.blocked(address, now_s)
        if wait > 0:
            raise RateLimited(f"too many failed {what} token attempts from this address", wait)
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else request.query.get("token")
        if not token:
            raise Unauthorized(f"missing {what} token: send Authorization: Bearer <token>")
        if not _same(token, expected):
            self.auth_failures.failed(address, now_s, token)
            raise Unauthorized(f"wrong {what} token")
        self.auth_failures.succeeded(address)


def _rollup_maintenance(con: duckdb.DuckDBPyConnection, now_ms: int, cutoff_ms: int) -> None:
    rollup.compact(con, now_ms)
    rollup.delete_before(con, cutoff_ms)
    reorder.reorder(con, now_ms)  # back in time order after an out-of-order load (zone maps prune)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _same(a: str, b: str) -> bool:
    """Constant time, length included: the digests always have the same length."""
    return hmac.compare_digest(_digest(a), _digest(b))

"""The alerting service: rules, windows, state, history and channels wired together.

* Each commit's rows reach :meth:`AlertService.on_commit` (the writer's hook, on the event
  loop): they go into the windows, and ``instant`` rules step the state machine at once.
* Every ``alert_eval_interval_s`` :meth:`AlertService.tick` reads every window and steps
  every rule.
* A change is persisted (through the writer thread, batched), published on the live stream
  and, when it is due one, handed to the dispatcher, which never blocks the caller.

On start the persisted state and silences are loaded and the windows are refilled from the
store, before any request is served; on stop queued notifications get ``drain_s`` to go out and
what is still unwritten is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from prometheus_client import CollectorRegistry, Gauge, Summary

from wasmwatch.alerts import history
from wasmwatch.alerts.channels import Channel, LogChannel, Notification
from wasmwatch.alerts.delivery import Attempt, Dispatcher
from wasmwatch.alerts.evaluate import Evaluator, Sample
from wasmwatch.alerts.rules import Rule, load_rules
from wasmwatch.alerts.silences import Silence, Silences
from wasmwatch.alerts.source import DuckDBSource
from wasmwatch.alerts.state import Alert, Change, StateMachine
from wasmwatch.clock import Clock
from wasmwatch.config import Settings
from wasmwatch.store.schema import Row

if TYPE_CHECKING:  # imported when a channel posts over HTTP (see http_client)
    import httpx

__all__ = ["AlertService", "build_channels"]

log = logging.getLogger(__name__)
Publish = Callable[[str, dict[str, Any]], None]
Run = Callable[..., Any]  # Writer.run_exclusive


def http_client(settings: Settings) -> httpx.AsyncClient | None:
    """The HTTP client of the webhook and Slack channels; None when neither is set: httpx and
    its TLS context hold ~10 MB (bench/RESULTS.md, memory4), not paid by a server without them."""
    if not (settings.alert_webhook_url or settings.alert_slack_url):
        return None
    import httpx

    return httpx.AsyncClient(timeout=settings.alert_timeout_s)


def build_channels(settings: Settings, client: httpx.AsyncClient | None) -> list[Channel]:
    """The log channel, plus each channel the settings configure (``client``: from
    :func:`http_client`; made here if a webhook or Slack URL needs one and none is given)."""
    channels: list[Channel] = [LogChannel()]
    if client is None:
        client = http_client(settings)
    if settings.alert_webhook_url and client is not None:
        from wasmwatch.alerts.channels.webhook import WebhookChannel

        channels.append(WebhookChannel(settings.alert_webhook_url, client))
    if settings.alert_slack_url and client is not None:
        from wasmwatch.alerts.channels.slack import SlackChannel

        channels.append(SlackChannel(settings.alert_slack_url, client))
    if settings.alert_smtp_url:
        from wasmwatch.alerts.channels.email import EmailChannel

        channels.append(EmailChannel(settings.alert_smtp_url, settings.alert_email_from,
                                     settings.alert_email_to,
                                     timeout_s=settings.alert_timeout_s))
    return channels


class AlertService:
    def __init__(self, settings: Settings, clock: Clock, registry: CollectorRegistry,
                 publish: Publish, project: str = "default",
                 channels: Sequence[Channel] | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.project = project
        self.publish = publish
        self.rules: tuple[Rule, ...] = load_rules(settings.rules)
        self._by_name = {r.name: r for r in self.rules}
        self.evaluator = Evaluator(self.rules)
        self.machine = StateMachine(project, cooldown_ms=int(settings.alert_cooldown_s * 1000),
                                    repeat_ms=int(settings.alert_repeat_interval_s * 1000))
        self.silences = Silences()
        self.client = http_client(settings) if channels is None else None
        self.external_url = f"http://{settings.host}:{settings.port}/dashboard"
        self.dispatcher = Dispatcher(
            channels if channels is not None else build_channels(settings, self.client),
            record=self._record, registry=registry, now_ms=clock.now_ms,
            attempts=settings.alert_attempts, timeout_s=settings.alert_timeout_s,
            backoff_s=settings.alert_backoff_s)
        self._eval_seconds = Summary("wasmwatch_alert_evaluation_seconds",
                                     "Time per evaluation of every rule", registry=registry)
        self._active = Gauge("wasmwatch_alerts_active", "Alerts pending or firing", ["state"],
                             registry=registry)
        self.last_samples: dict[str, list[Sample]] = {}
        self.last_tick_ms: int | None = None
        self._ops: list[history.Op] = []
        self._run: Run | None = None
        self._cursor: Callable[[], Any] | None = None
        self._flush_lock = asyncio.Lock()
        self._flushes: set[asyncio.Task[None]] = set()
        self.ready = False

    # -- start and stop ----------------------------------------------------------------------

    async def start(self, cursor: Callable[[], Any], run: Run) -> None:
        """``cursor``: a read cursor per thread (``store.reader``); ``run``: the writer's
        ``run_exclusive``, through which every write goes."""
        self._cursor, self._run = cursor, run
        await run(lambda: history.ensure(cursor()))
        now = self.clock.now_ms()
        await asyncio.to_thread(self._load, now)
        self.dispatcher.start()
        self.ready = True

    def _load(self, now_ms: int) -> None:
        assert self._cursor is not None
        con = self._cursor()
        self.machine.restore(history.load_active(con, self.project),
                             history.load_announced(con, self.project))
        for silence in history.load_silences(con, self.project, now_ms - 86_400_000):
            self.silences.add(silence)
        started = time.perf_counter()
        buckets = self.evaluator.backfill(DuckDBSource(self._cursor), self.project, now_ms)
        log.info("alert windows refilled from %d buckets in %.0f ms", buckets,
                 (time.perf_counter() - started) * 1000)

    async def stop(self) -> None:
        self.ready = False
        await self.dispatcher.drain(self.settings.alert_drain_s)
        await self.dispatcher.close()
        if self.client is not None:
            await self.client.aclose()

    async def write_remaining(self) -> None:
        """After the writer closed: write what is left on this task's thread (nobody else
        writes any more)."""
        ops, self._ops = self._ops, []
        if ops and self._cursor is not None:
            cursor = self._cursor
            await asyncio.to_thread(lambda: history.save(cursor(), ops))

    # -- feeding and ticking -------------------------------------------------------------------

    def on_commit(self, rows: list[Row] | pa.Table) -> None:
        """The writer's hook (it hands an Arrow table of the committed rows): rows into
        windows; instant rules step now."""
        if not self.ready or not len(rows):
            return
        project = self.project  # alerts are per project
        now = self.clock.now_ms()
        if isinstance(rows, pa.Table):
            if "project" in rows.column_names:
                mine = pc.equal(rows["project"], pa.scalar(project, pa.string()))
                if not pc.all(mine).as_py():  # other projects' rows too (rare): filter
                    rows = rows.filter(mine)
            hits = self.evaluator.observe_table(rows, now)
        else:
            if any(row.project != project for row in rows):
                rows = [row for row in rows if row.project == project]
            hits = self.evaluator.observe(rows, now)
        if hits:
            by_rule: dict[str, list[Sample]] = defaultdict(list)
            for sample in hits:
                by_rule[sample.rule.name].append(sample)
            for name, samples in by_rule.items():
                self._apply(self.machine.step(self._by_name[name], samples, now,
                                              self.silences.silenced, complete=False))

    def tick(self, now_ms: int) -> list[Change]:
        """Evaluate every rule at ``now_ms``; returns what changed."""
        started = time.perf_counter()
        by_rule: dict[str, list[Sample]] = {rule.name: [] for rule in self.rules}
        for sample in self.evaluator.evaluate(now_ms):
            by_rule[sample.rule.name].append(sample)
        changes: list[Change] = []
        for rule in self.rules:
            changes += self.machine.step(rule, by_rule[rule.name], now_ms, self.silences.silenced)
        self.last_samples, self.last_tick_ms = by_rule, now_ms
        self._apply(changes)
        self._eval_seconds.observe(time.perf_counter() - started)
        states = [a.state for a in self.machine.active.values()]
        for state in ("pending", "firing"):
            self._active.labels(state).set(states.count(state))
        return changes

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every ``alert_eval_interval_s`` until ``stop``."""
        interval = self.settings.alert_eval_interval_s
        while not stop.is_set():
            try:
                self.tick(self.clock.now_ms())
                await self.flush()
            except Exception:
                log.exception("alert evaluation failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    def _apply(self, changes: Sequence[Change]) -> None:
        for change in changes:
            alert = change.alert
            self._ops.append(alert)
            if change.transition:
                self._ops.append((alert.id, self.clock.now_ms(), change.previous, alert.state,
                                  alert.value))
                self.publish("alert", {**alert.as_dict(), "previous": change.previous})
            if change.notify:
                self.dispatcher.submit(Notification(change.notify, alert, self.clock.now_ms(),
                                                    self.settings.alert_service, self.external_url))
        if changes:
            task = asyncio.get_running_loop().create_task(self.flush())
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    def _record(self, attempt: Attempt) -> None:
        self._ops.append(attempt)
        self.publish("delivery", {"alert_id": attempt.alert_id, **attempt.as_dict()})

    async def flush(self) -> None:
        """Write the queued changes through the writer thread."""
        async with self._flush_lock:
            ops, self._ops = self._ops, []
            if not ops or self._run is None or self._cursor is None:
                self._ops = ops + self._ops
                return
            cursor = self._cursor
            try:
                await self._run(lambda: history.save(cursor(), ops))
            except RuntimeError:  # the writer thread has stopped: write_remaining() writes them
                self._ops = ops + self._ops
            except Exception:
                self._ops = ops + self._ops
                raise

    async def prune(self, cutoff_ms: int) -> int:
        """Delete resolved alerts (and their transitions and attempts) older than ``cutoff_ms``,
        and silences that ended before it (retention)."""
        if self._run is None or self._cursor is None:
            return 0
        cursor = self._cursor
        return int(await self._run(lambda: history.prune(cursor(), self.project, cutoff_ms)))

    # -- what the API asks -------------------------------------------------------------------

    async def alerts(self, *, since_ms: int, state: str | None, rule: str | None,
                     limit: int) -> list[dict[str, Any]]:
        await self.flush()
        assert self._cursor is not None
        cursor = self._cursor
        return await asyncio.to_thread(lambda: history.list_alerts(
            cursor(), self.project, since_ms=since_ms, state=state, rule=rule, limit=limit))

    def rules_state(self) -> list[dict[str, Any]]:
        out = []
        for rule in self.rules:
            active = [a for a in self.machine.active.values() if a.rule == rule.name]
            state = ("firing" if any(a.state == "firing" for a in active)
                     else "pending" if active else "inactive")
            samples = self.last_samples.get(rule.name, [])[:20]
            out.append({**rule.as_dict(), "state": state, "project": self.project,
                        "active": [a.as_dict() for a in active],
                        "evaluated_at": self.last_tick_ms,
                        "readings": [{"labels": dict(s.labels), "value": s.value,
                                      "samples": s.samples, "breach": s.breach} for s in samples]})
        return out

    def silence_list(self, now_ms: int) -> list[dict[str, Any]]:
        return [s.as_dict(now_ms) for s in sorted(self.silences.by_id.values(),
                                                  key=lambda s: -s.starts_at)]

    async def add_silence(self, silence: Silence) -> None:
        self.silences.add(silence)
        self._ops.append(silence)
        await self.flush()

    async def expire_silence(self, silence_id: str, now_ms: int) -> Silence | None:
        silence = self.silences.expire(silence_id, now_ms)
        if silence is not None:
            self._ops.append(silence)
            await self.flush()
        return silence

    def channel_names(self) -> list[str]:
        return list(self.dispatcher.channels)

    async def test(self, channel: str, now_ms: int) -> Attempt:
        """Send one test notification to ``channel`` (one attempt, recorded)."""
        labels = {"alertname": "wasmwatch_test", "severity": "info"}
        alert = Alert("test-" + secrets.token_hex(6), self.project, "wasmwatch_test", "test",
                      labels, "info", "firing", 1.0, 0.0, now_ms, now_ms,
                      "a test notification from wasmwatch", fired_at=now_ms)
        n = Notification("test", alert, now_ms, self.settings.alert_service, self.external_url)
        return await self.dispatcher.attempt(self.dispatcher.channels[channel], n, 1)

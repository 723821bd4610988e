"""The alert state machine: one alert per rule and label set, moved by samples and time.

::

    inactive ──breach──> pending ──breach for `for`──> firing ──clear for `keep_firing_for`──> resolved
        ^                  │ clear                        │ breach: stays firing (repeat notice)
        └──────────────────┘ (recorded as resolved, never notified)

Notifications, decided here and sent elsewhere (:mod:`wasmwatch.alerts.delivery`):

* ``firing`` when an alert starts firing, unless it is silenced, or its fingerprint was
  announced less than ``cooldown_ms`` ago (the seed's cooldown), or it is flapping; a firing
  alert not yet announced is announced at the first step where none of these holds any more.
* ``repeat`` every ``repeat_ms`` while it stays firing and announced.
* ``resolved`` when an announced alert resolves (never for one nobody was told about).

Flapping is damped: a fingerprint that started firing ``flap_count`` times within
``flap_window_ms`` is flapping; while it is, an alert needs ``flap_window_ms`` clear (not just
``keep_firing_for``) to resolve, so it stays one firing alert instead of a stream of notices.

Every method takes ``now``; nothing here reads a clock, sleeps or does I/O.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from wasmwatch.alerts.evaluate import Sample
from wasmwatch.alerts.rules import LABELS, Rule, format_ms

__all__ = ["Alert", "Change", "StateMachine", "fingerprint", "render_description"]


def fingerprint(project: str, labels: Mapping[str, str]) -> str:
    text = project + "\0" + "\0".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def render_description(rule: Rule, labels: Mapping[str, str], value: float | None,
                       samples: int) -> str:
    fields = {label: labels.get(label, "any") for label in LABELS}
    fields.update(rule=rule.name, value=_num(value), threshold=_num(rule.threshold),
                  window=format_ms(rule.window_ms), stat=rule.stat, metric=rule.metric,
                  severity=rule.severity, samples=str(samples))
    return rule.description.format_map(fields)


@dataclass
class Alert:
    """One alert episode; ``state`` is ``pending``, ``firing`` or ``resolved``."""

    id: str
    project: str
    rule: str
    fingerprint: str
    labels: dict[str, str]
    severity: str
    state: str
    value: float | None
    threshold: float
    started_at: int
    last_breach_at: int
    description: str
    fired_at: int | None = None
    resolved_at: int | None = None
    notified_at: int | None = None
    flapping: bool = False
    silenced: bool = False

    def snapshot(self) -> Alert:
        return replace(self, labels=dict(self.labels))

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "project": self.project, "rule": self.rule,
                "fingerprint": self.fingerprint, "labels": self.labels,
                "severity": self.severity, "state": self.state, "value": self.value,
                "threshold": self.threshold, "started_at": self.started_at,
                "fired_at": self.fired_at, "resolved_at": self.resolved_at,
                "description": self.description, "notified_at": self.notified_at,
                "flapping": self.flapping, "silenced": self.silenced}


@dataclass(frozen=True)
class Change:
    """What one step did to one alert: a transition and/or a notification to send."""

    alert: Alert  # a snapshot, safe to hand to other tasks
    previous: str | None  # the state before (None: a new alert)
    notify: str | None = None  # "firing", "repeat" or "resolved"

    @property
    def transition(self) -> bool:
        return self.previous != self.alert.state


@dataclass
class StateMachine:
    project: str
    cooldown_ms: int = 300_000
    repeat_ms: int = 4 * 3_600_000
    flap_count: int = 3
    flap_window_ms: int = 600_000
    active: dict[str, Alert] = field(default_factory=dict)
    #: fingerprint -> when it was last announced firing (for the cooldown)
    announced: dict[str, int] = field(default_factory=dict)
    _starts: dict[str, deque[int]] = field(default_factory=dict)

    def restore(self, active: Iterable[Alert], announced: Mapping[str, int]) -> None:
        """Load the state a previous run persisted."""
        self.active = {a.fingerprint: a for a in active if a.state in ("pending", "firing")}
        self.announced = dict(announced)

    def step(self, rule: Rule, samples: Iterable[Sample], now_ms: int,
             silenced: Callable[[Mapping[str, str], int], bool], complete: bool = True,
             ) -> list[Change]:
        """Apply one rule's samples at ``now_ms``.

        ``complete`` says the samples cover every label set of the rule (a tick), so an active
        alert without a sample is clear; an instant rule's arrival step passes False.
        """
        changes: list[Change] = []
        seen: set[str] = set()
        for sample in samples:
            labels = {"alertname": rule.name, "severity": rule.severity, **dict(sample.labels)}
            fp = fingerprint(self.project, labels)
            seen.add(fp)
            alert = self.active.get(fp)
            if sample.breach:
                change = self._breach(rule, alert, labels, fp, sample, now_ms, silenced)
            elif alert is not None:
                alert.value = sample.value
                change = self._clear(rule, alert, now_ms, silenced)
            else:
                change = None
            if change is not None:
                changes.append(change)
        if complete:
            for fp, alert in list(self.active.items()):
                if alert.rule == rule.name and fp not in seen:
                    change = self._clear(rule, alert, now_ms, silenced)
                    if change is not None:
                        changes.append(change)
        return changes

    def _breach(self, rule: Rule, alert: Alert | None, labels: dict[str, str], fp: str,
                sample: Sample, now_ms: int, silenced: Callable[[Mapping[str, str], int], bool],
                ) -> Change | None:
        previous = alert.state if alert is not None else None
        if alert is None:
            alert = Alert(secrets.token_hex(8), self.project, rule.name, fp, labels, rule.severity,
                          "pending", sample.value, rule.threshold, now_ms, now_ms, "")
            self.active[fp] = alert
        alert.value, alert.last_breach_at = sample.value, now_ms
        alert.description = render_description(rule, labels, sample.value, sample.samples)
        if alert.state == "pending" and now_ms - alert.started_at >= rule.for_ms:
            alert.state, alert.fired_at = "firing", now_ms
            self._started_firing(fp, now_ms)
        notify = self._notice(alert, now_ms, silenced)
        if previous == alert.state and notify is None:
            return None
        return Change(alert.snapshot(), previous, notify)

    def _clear(self, rule: Rule, alert: Alert, now_ms: int,
               silenced: Callable[[Mapping[str, str], int], bool]) -> Change | None:
        previous = alert.state
        if alert.state == "pending":
            alert.state, alert.resolved_at = "resolved", now_ms
            del self.active[alert.fingerprint]
            return Change(alert.snapshot(), previous)
        hold = rule.keep_firing_for_ms
        alert.flapping = self._flapping(alert.fingerprint, now_ms)
        if alert.flapping:
            hold = max(hold, self.flap_window_ms)
        if now_ms - alert.last_breach_at < hold:
            notify = self._notice(alert, now_ms, silenced)
            return Change(alert.snapshot(), previous, notify) if notify else None
        alert.state, alert.resolved_at = "resolved", now_ms
        del self.active[alert.fingerprint]
        told = alert.notified_at is not None
        alert.silenced = silenced(alert.labels, now_ms)
        return Change(alert.snapshot(), previous, "resolved" if told else None)

    def _notice(self, alert: Alert, now_ms: int,
                silenced: Callable[[Mapping[str, str], int], bool]) -> str | None:
        """The notification a firing alert is due, if any (and mark it sent)."""
        if alert.state != "firing":
            return None
        alert.silenced = silenced(alert.labels, now_ms)
        alert.flapping = self._flapping(alert.fingerprint, now_ms)
        if alert.notified_at is not None:
            if now_ms - alert.notified_at >= self.repeat_ms and not alert.silenced:
                alert.notified_at = now_ms
                self.announced[alert.fingerprint] = now_ms
                return "repeat"
            return None
        last = self.announced.get(alert.fingerprint)
        cooling = last is not None and now_ms - last < self.cooldown_ms
        if alert.silenced or cooling or alert.flapping:
            return None
        alert.notified_at = now_ms
        self.announced[alert.fingerprint] = now_ms
        return "firing"

    def _started_firing(self, fp: str, now_ms: int) -> None:
        starts = self._starts.setdefault(fp, deque(maxlen=self.flap_count))
        starts.append(now_ms)

    def _flapping(self, fp: str, now_ms: int) -> bool:
        starts = self._starts.get(fp)
        return (starts is not None and len(starts) >= self.flap_count
                and now_ms - starts[0] < self.flap_window_ms)

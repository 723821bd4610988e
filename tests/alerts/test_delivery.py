"""Delivery: retries with backoff, a timeout per attempt, every attempt recorded, no channel
holding up another; the channels' payloads; e-mail through a real aiosmtpd server."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

from tests.alerts.conftest import NOW
from tests.alerts.receivers import SmtpReceiver
from wasmwatch.alerts.channels import EmailChannel, MemoryChannel, Notification
from wasmwatch.alerts.channels.email import compose, parse_smtp_url
from wasmwatch.alerts.channels.slack import message
from wasmwatch.alerts.channels.webhook import payload
from wasmwatch.alerts.delivery import Attempt, Dispatcher
from wasmwatch.alerts.state import Alert
from wasmwatch.errors import ConfigError


def alert() -> Alert:
    return Alert("a1", "default", "slow", "fp1", {"alertname": "slow", "severity": "warning",
                 "release": "2.0"}, "warning", "firing", 1500.0, 1000.0, NOW, NOW,
                 "slow is slow", fired_at=NOW)


def note(kind: str = "firing") -> Notification:
    return Notification(kind, alert(), NOW, "wasmwatch", "http://127.0.0.1:8787/dashboard")


def dispatcher(channels: list[MemoryChannel], record: list[Attempt],
               **kw: object) -> Dispatcher:
    async def no_sleep(_: float) -> None:
        await asyncio.sleep(0)
    options: dict = {"attempts": 3, "timeout_s": 0.2, "sleep": no_sleep, **kw}  # type: ignore[type-arg]
    return Dispatcher(channels, record=record.append, registry=CollectorRegistry(), **options)


async def test_a_failing_channel_is_retried_and_every_attempt_recorded() -> None:
    """Two failures then success: three attempts recorded, delivered once."""
    attempts: list[Attempt] = []
    flaky = MemoryChannel("flaky", fail=2)
    d = dispatcher([flaky], attempts)
    assert await d.deliver(flaky, note())
    assert [(a.attempt, a.outcome) for a in attempts] == [(1, "error"), (2, "error"), (3, "ok")]
    assert len(flaky.sent) == 1


async def test_giving_up_is_counted() -> None:
    """A channel that always fails is tried `attempts` times, then given up."""
    attempts: list[Attempt] = []
    dead = MemoryChannel("dead", fail=99)
    d = dispatcher([dead], attempts)
    assert not await d.deliver(dead, note())
    assert d.counter.labels("dead", "gave_up")._value.get() == 1
    assert d.counter.labels("dead", "error")._value.get() == 3


async def test_a_hanging_channel_times_out_and_delays_no_other() -> None:
    """With one channel hanging, the other gets its notification while the first still waits."""
    attempts: list[Attempt] = []
    hung, good = MemoryChannel("hung", hang=True), MemoryChannel("good")
    d = dispatcher([hung, good], attempts, timeout_s=5.0)
    d.start()
    d.submit(note())
    for _ in range(100):
        if good.sent:
            break
        await asyncio.sleep(0.01)
    assert len(good.sent) == 1 and hung.attempts == 1
    assert not any(a.channel == "hung" for a in attempts)  # still hanging
    await d.close()


async def test_timeout_is_an_outcome() -> None:
    """A hung attempt ends at the timeout, recorded as such."""
    attempts: list[Attempt] = []
    hung = MemoryChannel("hung", hang=True)
    d = dispatcher([hung], attempts, attempts=1, timeout_s=0.05)
    assert not await d.deliver(hung, note())
    assert attempts[0].outcome == "timeout"


async def test_a_full_queue_drops_and_counts() -> None:
    """submit() never waits: past the queue size, notifications are dropped and counted."""
    attempts: list[Attempt] = []
    slow = MemoryChannel("slow")
    d = dispatcher([slow], attempts, queue_size=2)
    for _ in range(5):
        d.submit(note())
    assert d.counter.labels("slow", "dropped")._value.get() == 3


def test_webhook_payload_is_alertmanager_v4_plus_the_seed_keys() -> None:
    """version 4 shape with labels.alertname and labels.severity, plus the seed's keys."""
    body = payload(note("resolved"))
    assert body["version"] == "4" and body["status"] == "resolved"
    assert body["groupLabels"] == {"alertname": "slow"}
    (a,) = body["alerts"]
    assert a["labels"]["alertname"] == "slow" and a["labels"]["severity"] == "warning"
    assert a["startsAt"].endswith("Z") and a["annotations"]["description"] == "slow is slow"
    assert body["alert_type"] == "slow" and body["severity"] == "warning"
    assert body["data"]["value"] == 1500.0 and body["service"] == "wasmwatch"


def test_slack_message() -> None:
    """An incoming-webhook body: text and a mrkdwn section."""
    body = message(note())
    assert "[FIRING] slow (warning)" in body["text"] and "release=2.0" in body["text"]
    assert body["blocks"][0]["type"] == "section"


def test_a_resolve_says_it_cleared_not_that_it_still_breaches() -> None:
    """Slack and e-mail say a resolved alert cleared and after how long; the description it
    fired on follows (the webhook keeps Alertmanager's annotations as they were)."""
    resolved = replace(alert(), state="resolved", resolved_at=NOW + 130_000)
    n = Notification("resolved", resolved, NOW + 130_000)
    assert message(n)["text"].splitlines()[1] == "cleared after 2m 10s; it fired on: slow is slow"
    assert compose(n, "ww@example.com", ["a@example.com"]).get_content().startswith(
        "cleared after 2m 10s; it fired on: slow is slow\n")
    assert message(note())["text"].splitlines()[1] == "slow is slow"
    assert payload(n)["alerts"][0]["annotations"]["description"] == "slow is slow"


def test_smtp_urls() -> None:
    """smtp, smtps and ?starttls=true, with credentials and default ports."""
    plain = parse_smtp_url("smtp://u%40x:p@mail.test:2525")
    assert (plain.host, plain.port, plain.username, plain.password) == ("mail.test", 2525, "u@x", "p")
    assert not plain.use_tls and not plain.start_tls
    assert parse_smtp_url("smtps://mail.test").port == 465
    starttls = parse_smtp_url("smtp://mail.test?starttls=true")
    assert starttls.start_tls and starttls.port == 587
    with pytest.raises(ConfigError):
        parse_smtp_url("http://mail.test")


async def test_email_through_a_real_smtp_server() -> None:
    """The e-mail channel delivers to aiosmtpd on loopback, to every recipient."""
    smtp = SmtpReceiver().start()
    try:
        channel = EmailChannel(smtp.url, "ww@example.com", ["a@example.com", "b@example.com"])
        await channel.send(note())
        (_, envelope), = smtp.handler.messages
        assert envelope.mail_from == "ww@example.com"
        assert sorted(envelope.rcpt_tos) == ["a@example.com", "b@example.com"]
        assert smtp.subjects() == ["[FIRING] slow (warning) - wasmwatch"]
    finally:
        smtp.stop()

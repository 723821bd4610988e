"""The e-mail channel, over SMTP with aiosmtplib.

aiosmtplib rather than the standard library's smtplib in a thread: it runs on the event loop,
so a hung server costs a pending coroutine that the dispatcher's timeout cancels cleanly,
not a blocked thread that cannot be stopped; and it does STARTTLS and implicit TLS itself.

``alert_smtp_url``: ``smtp://user:pass@host:port`` (plain, port 25 by default),
``smtps://...`` (TLS from the start, port 465), ``smtp://...?starttls=true`` (upgrade, 587).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from wasmwatch.alerts.channels.base import ChannelError, Notification, iso
from wasmwatch.errors import ConfigError

__all__ = ["EmailChannel", "SmtpTarget", "compose", "parse_smtp_url"]


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(f"alert_smtp_url: expected smtp://user:pass@host:port or smtps://..., "
                          f"got {url!r}")
    query = parse_qs(parts.query)
    start_tls = query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
    use_tls = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if use_tls else 587 if start_tls else 25)
    except ValueError as exc:
        raise ConfigError(f"alert_smtp_url: {exc}") from exc
    return SmtpTarget(parts.hostname, port, unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None, use_tls, start_tls)


def compose(n: Notification, sender: str, to: list[str]) -> EmailMessage:
    a = n.alert
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = f"[{n.status.upper()}] {a.rule} ({a.severity}) - {n.service}"
    labels = "\n".join(f"  {k} = {v}" for k, v in a.labels.items())
    msg.set_content(
        f"{n.text}\n\nstate: {a.state}\nvalue: {a.value}\nthreshold: {a.threshold}\n"
        f"started: {iso(a.fired_at or a.started_at)}\n"
        + (f"resolved: {iso(a.resolved_at)}\n" if a.resolved_at else "")
        + f"labels:\n{labels}\n\n{n.external_url}\n")
    return msg


class EmailChannel:
    name = "email"

    def __init__(self, url: str, sender: str, to: list[str], timeout_s: float = 10.0) -> None:
        if not to:
            raise ConfigError("alert_email_to: needed with alert_smtp_url (comma-separated)")
        self.target = parse_smtp_url(url)
        self.sender = sender
        self.to = to
        self.timeout_s = timeout_s

    async def send(self, notification: Notification) -> None:
        t = self.target
        try:
            await aiosmtplib.send(
                compose(notification, self.sender, self.to), hostname=t.host, port=t.port,
                username=t.username, password=t.password, use_tls=t.use_tls,
                start_tls=t.start_tls, timeout=self.timeout_s)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"{type(exc).__name__}: {exc}") from exc

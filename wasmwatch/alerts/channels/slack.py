"""The Slack channel: an incoming-webhook message (``text`` plus a ``blocks`` section)."""

from __future__ import annotations

from typing import Any

import httpx

from wasmwatch.alerts.channels.base import ChannelError, Notification

__all__ = ["SlackChannel", "message"]

_ICON = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}


def message(n: Notification) -> dict[str, Any]:
    a = n.alert
    icon = ":white_check_mark:" if n.kind == "resolved" else _ICON.get(a.severity, "")
    head = f"{icon} [{n.status.upper()}] {a.rule} ({a.severity})"
    labels = ", ".join(f"{k}={v}" for k, v in a.labels.items() if k not in ("alertname", "severity"))
    text = f"{head}\n{n.text}" + (f"\n{labels}" if labels else "")
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


class SlackChannel:
    name = "slack"

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        self.url = url
        self._client = client

    async def send(self, notification: Notification) -> None:
        try:
            answer = await self._client.post(self.url, json=message(notification))
        except httpx.HTTPError as exc:
            raise ChannelError(f"{type(exc).__name__}: {exc}") from exc
        if answer.status_code >= 300:
            raise ChannelError(f"HTTP {answer.status_code}: {answer.text[:200]}")

"""The log channel, always on: one warning line per notification."""

from __future__ import annotations

import logging

from wasmwatch.alerts.channels.base import Notification

__all__ = ["LogChannel"]

log = logging.getLogger("wasmwatch.alerts")


class LogChannel:
    name = "log"

    async def send(self, notification: Notification) -> None:
        a = notification.alert
        log.warning("alert %s %s [%s] %s labels=%s value=%s", notification.kind, a.rule,
                    a.severity, a.description, a.labels, a.value)

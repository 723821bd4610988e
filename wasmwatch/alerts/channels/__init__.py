"""Notification channels, one module each, behind :class:`~.base.Channel`.

The e-mail, Slack and webhook channels are imported on first use (``from
wasmwatch.alerts.channels import SlackChannel`` still works): their clients (aiosmtplib, httpx)
are memory a server that does not send through them does not hold.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wasmwatch.alerts.channels.base import Channel, ChannelError, MemoryChannel, Notification
from wasmwatch.alerts.channels.log import LogChannel

if TYPE_CHECKING:
    from wasmwatch.alerts.channels.email import EmailChannel
    from wasmwatch.alerts.channels.slack import SlackChannel
    from wasmwatch.alerts.channels.webhook import WebhookChannel

__all__ = ["Channel", "ChannelError", "EmailChannel", "LogChannel", "MemoryChannel",
           "Notification", "SlackChannel", "WebhookChannel"]

_LAZY = {"EmailChannel": "email", "SlackChannel": "slack", "WebhookChannel": "webhook"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

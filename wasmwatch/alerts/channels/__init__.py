"""Notification channels, one module each, behind :class:`~.base.Channel`."""

from wasmwatch.alerts.channels.base import Channel, ChannelError, MemoryChannel, Notification
from wasmwatch.alerts.channels.email import EmailChannel
from wasmwatch.alerts.channels.log import LogChannel
from wasmwatch.alerts.channels.slack import SlackChannel
from wasmwatch.alerts.channels.webhook import WebhookChannel

__all__ = ["Channel", "ChannelError", "EmailChannel", "LogChannel", "MemoryChannel",
           "Notification", "SlackChannel", "WebhookChannel"]

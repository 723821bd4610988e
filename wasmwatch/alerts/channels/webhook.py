"""The webhook channel: Alertmanager's webhook version 4 JSON, plus the seed's top-level keys.

So an Alertmanager receiver works unchanged, and a receiver written for the seed finds
``alert_type``, ``severity``, ``data``, ``timestamp`` and ``service`` where it expects them.
"""

from __future__ import annotations

from typing import Any

import httpx

from wasmwatch.alerts.channels.base import ChannelError, Notification, iso

__all__ = ["WebhookChannel", "payload"]


def payload(n: Notification) -> dict[str, Any]:
    a = n.alert
    annotations = {"description": a.description, "summary": f"{a.rule} is {n.status}"}
    group = {"alertname": a.rule}
    resolved = n.kind == "resolved"
    return {
        "version": "4",
        "groupKey": '{}:{alertname="' + a.rule + '"}',
        "truncatedAlerts": 0,
        "status": n.status,
        "receiver": "wasmwatch",
        "groupLabels": group,
        "commonLabels": a.labels,
        "commonAnnotations": annotations,
        "externalURL": n.external_url,
        "alerts": [{
            "status": n.status,
            "labels": a.labels,
            "annotations": annotations,
            "startsAt": iso(a.fired_at or a.started_at),
            "endsAt": iso(a.resolved_at if resolved else None),
            "generatorURL": n.external_url,
            "fingerprint": a.fingerprint,
        }],
        # the seed's keys
        "alert_type": a.rule,
        "severity": a.severity,
        "data": {"id": a.id, "project": a.project, "value": a.value, "threshold": a.threshold,
                 "labels": a.labels, "description": a.description, "kind": n.kind,
                 "state": a.state},
        "timestamp": iso(n.at_ms),
        "service": n.service,
    }


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        self.url = url
        self._client = client

    async def send(self, notification: Notification) -> None:
        try:
            answer = await self._client.post(self.url, json=payload(notification))
        except httpx.HTTPError as exc:
            raise ChannelError(f"{type(exc).__name__}: {exc}") from exc
        if answer.status_code >= 300:
            raise ChannelError(f"HTTP {answer.status_code}")

"""OTLP request bodies for the tests, in the OTLP JSON mapping."""

from __future__ import annotations

from typing import Any

from tests.conftest import NOW

TRACE = "5b8efff798038103d269b633813fc60c"
SERVER_SPAN = "eee19b7ec3c1b174"
DB_SPAN = "eee19b7ec3c1b173"
PARENT = "b7ad6b7169203331"


def nanos(ms: float) -> str:
    """Epoch ms as the int64 string of nanoseconds (exact to the microsecond)."""
    return str(round(ms * 1000) * 1000)


def attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        v: dict[str, Any] = {"boolValue": value}
    elif isinstance(value, int):
        v = {"intValue": str(value)}
    elif isinstance(value, float):
        v = {"doubleValue": value}
    elif isinstance(value, list):
        v = {"arrayValue": {"values": [{"stringValue": x} for x in value]}}
    else:
        v = {"stringValue": value}
    return {"key": key, "value": v}


def resource(service: str = "shop-api", version: str = "2.0.1") -> dict[str, Any]:
    return {"attributes": [attr("service.name", service), attr("service.version", version)]}


def span(span_id: str, name: str, kind: int, start: float, ms: float, attrs: dict[str, Any],
         parent: str = PARENT, trace: str = TRACE, status: int = 0, **extra: Any) -> dict[str, Any]:
    return {"traceId": trace, "spanId": span_id, "parentSpanId": parent, "name": name, "kind": kind,
            "startTimeUnixNano": nanos(start), "endTimeUnixNano": nanos(start + ms),
            "attributes": [attr(k, v) for k, v in attrs.items()], "status": {"code": status}, **extra}


def traces(*spans: dict[str, Any], service: str = "shop-api") -> dict[str, Any]:
    return {"resourceSpans": [{"resource": resource(service), "scopeSpans": [
        {"scope": {"name": "test"}, "spans": list(spans)}]}]}


def server_and_db(start: float = NOW) -> dict[str, Any]:
    """A request span and the query it made."""
    return traces(
        span(SERVER_SPAN, "GET /api/items/{id}", 2, start, 8.5,
             {"http.request.method": "GET", "http.route": "/api/items/{id}",
              "http.response.status_code": 200, "url.path": "/api/items/42",
              "http.request.header.x-wasmwatch-session": ["sess-9"]}),
        span(DB_SPAN, "SELECT items", 3, start + 1, 2.25,
             {"db.system": "postgresql", "db.query.text": "SELECT * FROM items WHERE id = 42 AND owner = 'bob@example.com'"},
             parent=SERVER_SPAN))


def gauge(name: str, points: list[tuple[float, dict[str, Any]]], unit: str = "", at: float = NOW,
          kind: str = "gauge") -> dict[str, Any]:
    return {"name": name, "unit": unit, kind: {"dataPoints": [
        {"timeUnixNano": nanos(at), "asDouble": value, "attributes": [attr(k, v) for k, v in attrs.items()]}
        for value, attrs in points]}}


def metrics(*metric: dict[str, Any]) -> dict[str, Any]:
    return {"resourceMetrics": [{"resource": resource(), "scopeMetrics": [{"metrics": list(metric)}]}]}


def log(severity: int, body: str, at: float = NOW, text: str = "", **attrs: Any) -> dict[str, Any]:
    return {"timeUnixNano": nanos(at), "severityNumber": severity, "severityText": text,
            "body": {"stringValue": body}, "attributes": [attr(k, v) for k, v in attrs.items()]}


def logs(*records: dict[str, Any]) -> dict[str, Any]:
    return {"resourceLogs": [{"resource": resource(), "scopeLogs": [{"logRecords": list(records)}]}]}

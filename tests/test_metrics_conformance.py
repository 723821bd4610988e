"""A real server's /metrics after every item type: `promtool check metrics` passes, no
`_created` series, base units only, and OpenMetrics when the Accept header asks for it."""

from __future__ import annotations

import shutil
import subprocess
import time

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from tests.conftest import LiveServer, envelope, item

pytestmark = pytest.mark.server
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def every_item_type(now: int) -> list[dict[str, object]]:
    return [
        item("operation", ts=now), item("operation", ts=now, offline=True, name="save"),
        item("bundle_load", ts=now, fetch_ms=80.0, compile_ms=40.0, cached=False),
        item("runtime_init", ts=now), item("error", ts=now, category="runtime"),
        item("memory", ts=now), item("engagement", ts=now, page="/"), item("feature", ts=now),
        item("offline_sync", ts=now, ms=120.0, ok=True), item("measurement", ts=now),
    ]


@pytest.fixture
def scraped(live_server: LiveServer) -> LiveServer:
    now = int(time.time() * 1000)
    body = {**envelope(every_item_type(now), sent_at=now), "lost": {"queue_full": 2}}
    r = httpx.post(f"{live_server.url}/api/v1/ingest", params={"key": live_server.key}, json=body)
    assert r.json()["accepted"] == 10, r.text
    httpx.post(f"{live_server.url}/api/v1/ingest", params={"key": "wrong"}, json=body)
    return live_server


def test_promtool_accepts_metrics(scraped: LiveServer) -> None:
    """promtool (Debian's prometheus package) finds nothing to complain about."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make test installs it)")
    text = httpx.get(f"{scraped.url}/metrics").text
    assert 'offline_sync_duration_seconds_count{project="default"} 1.0' in text
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (result.stdout + result.stderr).strip() == ""


def test_base_units_and_no_created_series(scraped: LiveServer) -> None:
    """Durations are in seconds, counters end in _total, and no series is doubled by _created."""
    text = httpx.get(f"{scraped.url}/metrics").text
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert "_created" not in text
    assert not [n for n in names if n.endswith(("_ms", "_ms_total"))]
    assert {"wasm_bundle_load_duration_seconds", "wasm_operations_duration_seconds",
            "engagement_time_on_page_seconds_total", "process_cpu_seconds_total",
            "python_gc_collections_total"} <= names
    types = dict(line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE"))
    assert all(n.endswith("_total") for n, t in types.items() if t == "counter")


def test_openmetrics_when_asked(scraped: LiveServer) -> None:
    """Accept: application/openmetrics-text gets a document the strict parser accepts."""
    r = httpx.get(f"{scraped.url}/metrics", headers={"accept": OPENMETRICS})
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.endswith("# EOF\n")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert families["wasm_bundle_load_duration_seconds"].unit == "seconds"
    assert families["wasm_operations"].type == "counter"
    plain = httpx.get(f"{scraped.url}/metrics")
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")

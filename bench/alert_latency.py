"""Benchmark: breach to webhook, at default settings, against a real ``wasmwatch serve``.

Starts the server (defaults: evaluation every 1 s) with ``alert_webhook_url`` pointing at an
HTTP receiver on loopback in this process, then per trial posts the batch whose arrival
breaches a rule and times from just before the POST to the webhook request's arrival:

* ``instant``: one ``critical`` error (rule ``critical_error``, grouped by operation here so
  each trial is a new alert; nothing else changed),
* ``threshold``: 20 operations at 2 s (rule ``high_operation_latency``: p95 > 1 s over 5 min,
  ``min_samples`` 20), a new operation name per trial, so it fires at the next evaluation.

Baseline, measured in the same run: the ingest round trip (POST to its 2xx) of the same batch.
Prints median and max per kind and writes ``bench/out/alert_latency.json`` (only when missing,
or with WASMWATCH_BENCH_WRITE=1).

Run: ``.venv/bin/python bench/alert_latency.py [--trials N]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

OUT = Path(__file__).resolve().parent / "out" / "alert_latency.json"
KEY, TOKEN = "pk_bench", "adm_bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.perf_counter()
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with receiver.cond:
                    receiver.arrivals.append((at, body))
                    receiver.cond.notify_all()
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, label: str, value: str, timeout: float = 10.0) -> float:
        deadline = time.perf_counter() + timeout
        with self.cond:
            while True:
                for at, body in self.arrivals:
                    if body["status"] == "firing" and body["alerts"][0]["labels"].get(label) == value:
                        return at
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise TimeoutError(f"no webhook for {label}={value}")
                self.cond.wait(left)


def start_server(data: Path, port: int, hook: str) -> subprocess.Popen[str]:
    config = data.parent / "bench.toml"
    config.write_text('[[rules]]\nname = "critical_error"\ngroup_by = ["operation"]\n')
    env = {**os.environ, "WASMWATCH_INGEST_KEY": KEY, "WASMWATCH_ADMIN_TOKEN": TOKEN,
           "WASMWATCH_ALERT_WEBHOOK_URL": hook, "WASMWATCH_CONFIG": str(config),
           "WASMWATCH_DEMO": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "wasmwatch", "serve", "--port", str(port),
                             "--data-dir", str(data)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def batch(kind: str, name: str) -> dict[str, Any]:
    now = time.time_ns() // 1_000_000
    if kind == "instant":
        items = [{"id": uuid.uuid4().hex, "ts": now, "type": "error", "kind": "RuntimeError",
                  "message": "trap", "category": "critical", "operation": name}]
    else:
        items = [{"id": uuid.uuid4().hex, "ts": now, "type": "operation", "name": name,
                  "ms": 2000.0} for _ in range(20)]
    return {"sent_at": now, "context": {"session": "b", "release": "1.0.0"}, "items": items}


def trial(client: httpx.Client, url: str, receiver: Receiver, kind: str, k: int) -> tuple[float, float]:
    name = f"{kind}_{k}_{uuid.uuid4().hex[:6]}"
    body = batch(kind, name)
    started = time.perf_counter()
    answer = client.post(url, json=body)
    acked = time.perf_counter()
    answer.raise_for_status()
    arrived = receiver.wait("operation", name)
    return (arrived - started) * 1000, (acked - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="5 trials")
    args = parser.parse_args()
    if args.quick:
        args.trials = 5
    receiver = Receiver()
    port = free_port()
    data = Path(tempfile.mkdtemp()) / "data"
    proc = start_server(data, port, f"http://127.0.0.1:{receiver.port}/hook")
    url = f"http://127.0.0.1:{port}/api/v1/ingest?key={KEY}"
    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                          "platform": platform.platform(),
                                          "note": "2 cores shared with other helpers' work"},
                              "trials": args.trials, "budget_ms": 2000}
    try:
        with httpx.Client(timeout=10) as client:
            for kind in ("instant", "threshold"):
                lat, ack = [], []
                for k in range(args.trials):
                    a, b = trial(client, url, receiver, kind, k)
                    lat.append(a)
                    ack.append(b)
                    time.sleep(0.137 * (1 + k % 7))  # land at varied points of the tick
                result[kind] = {"breach_to_webhook_ms": {"median": round(statistics.median(lat), 1),
                                                         "max": round(max(lat), 1)},
                                "baseline_ingest_ack_ms": {"median": round(statistics.median(ack), 1),
                                                           "max": round(max(ack), 1)},
                                "ratio_median_to_ack": round(statistics.median(lat) / statistics.median(ack), 1),
                                "within_budget": max(lat) <= 2000}
    finally:
        proc.terminate()
        proc.wait(30)
    print(json.dumps(result, indent=2))
    if os.environ.get("WASMWATCH_BENCH_WRITE") or not OUT.exists():
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["instant"]["within_budget"] and result["threshold"]["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())

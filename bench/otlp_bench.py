"""OTLP/HTTP receiving cost: decode, map and check one export of N spans, as protobuf and as
OTLP JSON, against the SDK's own envelope of the same N items through the same pipeline (the
baseline), all in one process, interleaved, in one run. The store is left out: its commit is
the same for every path.

Usage: .venv/bin/python bench/otlp_bench.py [--quick]
Writes bench/out/otlp.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import otlp_bodies as b  # noqa: E402
from wasmwatch.ingest import otlp  # noqa: E402
from wasmwatch.ingest import schema as s  # noqa: E402
from wasmwatch.ingest.pipeline import Pipeline  # noqa: E402

NOW = b.NOW


def bodies(n: int) -> tuple[bytes, bytes, bytes]:
    """(OTLP JSON, protobuf, SDK envelope) of n spans: half requests, half queries."""
    spans = []
    for i in range(n):
        if i % 2 == 0:
            spans.append(b.span(f"{i + 1:016x}", "GET /api/items/{id}", 2, NOW + i, 5.0, {
                "http.request.method": "GET", "http.route": "/api/items/{id}",
                "http.response.status_code": 200}))
        else:
            spans.append(b.span(f"{i + 1:016x}", "SELECT items", 3, NOW + i, 1.5, {
                "db.system": "postgresql", "db.query.text": f"SELECT * FROM items WHERE id = {i}"}))
    body = b.traces(*spans)
    as_json = msgspec.json.encode(body)
    proto_form = msgspec.json.decode(as_json)
    for sp in proto_form["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId", "parentSpanId"):
            sp[key] = __import__("base64").b64encode(bytes.fromhex(sp[key])).decode()
    message = json_format.ParseDict(proto_form, trace_service_pb2.ExportTraceServiceRequest())
    items = [{"id": f"r{i}", "type": "server_request", "ts": NOW + i, "route": "/api/items/{id}",
              "method": "GET", "status": 200, "ms": 5.0, "trace_id": b.TRACE, "span_id": f"{i + 1:016x}"}
             if i % 2 == 0 else
             {"id": f"q{i}", "type": "server_span", "ts": NOW + i, "name": "SELECT items", "kind": "query",
              "ms": 1.5, "trace_id": b.TRACE, "span_id": f"{i + 1:016x}",
              "statement": "SELECT * FROM items WHERE id = ?"} for i in range(n)]
    envelope = msgspec.json.encode({"sent_at": NOW, "context": {"service": "shop-api"}, "items": items})
    return as_json, message.SerializeToString(), envelope


def paths(n: int) -> dict[str, Callable[[], int]]:
    pipeline = Pipeline()
    as_json, proto, envelope = bodies(n)
    decoder = msgspec.json.Decoder(s.TypedEnvelope)

    def receive(body: bytes, protobuf: bool) -> int:
        request = otlp.decode("traces", body, protobuf)
        result = otlp.chunks("traces", request, otlp.items("traces", request), pipeline, "p", NOW, len(body))
        return result.accepted

    def sdk() -> int:
        env = decoder.decode(envelope)
        batch = pipeline.batch(env.context, project="p", user_agent=None, sent_at=env.sent_at, now_ms=NOW)
        chunk, _ = pipeline.check(env.items, batch, len(envelope), typed=True)
        return len(chunk.items)

    return {"sdk envelope (baseline)": sdk, "OTLP JSON": lambda: receive(as_json, False),
            "OTLP protobuf": lambda: receive(proto, True)}


def measure(n: int, rounds: int) -> dict[str, float]:
    runs = paths(n)
    for f in runs.values():
        assert f() == n
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, f in runs.items():
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, rounds = (512, 10) if args.quick else (512, 40)  # 512: the BatchSpanProcessor's batch
    medians = measure(n, rounds)
    base = medians["sdk envelope (baseline)"]
    rows = [{"path": name, "median_ms": round(t * 1000, 2), "us_per_span": round(t / n * 1e6, 2),
             "ratio": round(t / base, 2)} for name, t in medians.items()]
    out = {"spans": n, "rounds": rounds, "python": platform.python_version(),
           "machine": platform.machine(), "rows": rows}
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "otlp.json").write_text(json.dumps(out, indent=1))
    for row in rows:
        print(f"{row['path']:<26} {row['median_ms']:>8} ms  {row['us_per_span']:>6} µs/span  {row['ratio']}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Storage benchmark (issue 8): this tree's wasmwatch against wasmwatch at 2e0b87d and the bare
HTTP app, in one run, under the same wrk and the same bodies.

Servers: ``new`` (this checkout, ``.venv/bin/wasmwatch``), ``base`` (a checkout of 2e0b87d given
with ``--base DIR``, run by the same interpreter with ``PYTHONPATH=DIR``: the code differs, the
dependencies are the same), ``bare`` (``ingest/bare_app.py``: reads the body, answers ``{}``).

Loads (each request's item ids are unique; see ``ingest/ingest.lua``):

* ``ingest1000`` / ``ingest100``: ``/api/v1/ingest`` with 1000- / 100-item SDK envelopes of the
  realistic type mix of ``ingest/run.py``;
* ``seed1000`` / ``seed100``: ``/api/telemetry/wasm/bulk`` with 1000- / 100-metric bodies;
* ``single``: one item per request at ``--single-conns`` connections.

After each run of ``new`` and ``base``: SIGTERM, then the stored count must equal the
acknowledged count (and the distinct ids). Prints one line per run and a JSON summary;
``--write`` stores it in ``bench/out/storage.json``.

Run: ``.venv/bin/python bench/storage_bench.py --base /work/wt-base [--duration 4]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "ingest"))

import run as ib  # noqa: E402  (bench/ingest/run.py: bodies, CPU and RSS probes)

OUT = HERE / "out" / "storage.json"
PATHS = {"ingest": "/api/v1/ingest", "seed": "/api/telemetry/wasm/bulk", "single": "/api/v1/ingest"}
SEED_TYPES = {"operation": 50, "bundle_load": 8, "error": 6, "memory": 10, "feature": 10,
              "engagement": 8, "offline_sync": 4, "custom_metric": 4}
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/124.0.0.0 Safari/537.36")


def seed_body(n: int, rng: random.Random) -> str:
    kinds, weights = list(SEED_TYPES), list(SEED_TYPES.values())
    parts = []
    for index, kind in enumerate(rng.choices(kinds, weights, k=n)):
        data = {"duration": round(rng.random() ** 3 * 400, 2), "operation_type": rng.choice(ib.OPS),
                "heap_usage": rng.randint(16, 512) * 65536, "message": "oob at 12", "kind": "RuntimeError"}
        rest = json.dumps(data, separators=(",", ":"))[1:]
        parts.append(f'{{"type":"{kind}","bundle_version":"1.4.2","user_agent":"{UA}",'
                     f'"data":{{"req":"\x01-{index:04d}","timestamp":\x02{rng.randint(0, 9999):04d},'
                     + rest + "}")
    return '{"metrics":[' + ",".join(parts) + "]}"


def templates(folder: Path) -> None:
    rng = random.Random(20251201)
    kinds, weights = list(ib.MIX), list(ib.MIX.values())

    def envelope(n: int) -> str:
        return ib.make_body([(k, ib.make_item(k, rng)) for k in rng.choices(kinds, weights, k=n)], rng)

    bodies = {"ingest1000": [envelope(1000) for _ in range(4)],
              "ingest100": [envelope(100) for _ in range(16)],
              "seed1000": [seed_body(1000, rng) for _ in range(4)],
              "seed100": [seed_body(100, rng) for _ in range(16)],
              "single": [envelope(1) for _ in range(64)]}
    for name, group in bodies.items():
        (folder / f"{name}.tmpl").write_bytes("\0".join(group).encode())


class Server:
    def __init__(self, kind: str, data_dir: Path, base: Path | None) -> None:
        self.kind = kind
        self.port = ib.free_port()
        env = dict(os.environ, WASMWATCH_INGEST_KEY=ib.KEY, WASMWATCH_ADMIN_TOKEN="t",
                   WASMWATCH_RATE_LIMIT="100000000", PYTHONUNBUFFERED="1")
        serve = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(data_dir)]
        cwd = ib.ROOT
        if kind == "new":
            cmd = [str(ib.VENV_BIN / "wasmwatch"), *serve]
        elif kind == "base":
            assert base is not None, "--base DIR (a checkout of 2e0b87d) is needed"
            cmd, cwd = [sys.executable, "-m", "wasmwatch", *serve], base
            env["PYTHONPATH"] = str(base)
        else:
            cmd = [sys.executable, str(HERE / "ingest" / "bare_app.py"), "--port", str(self.port)]
        self.log = open(data_dir.parent / f"{data_dir.name}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd)
        self.pid = self.proc.pid
        ib.Server._wait_ready(self)  # type: ignore[arg-type]

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(180)
        self.log.close()


def wrk(url: str, template: Path, tag: str, run_s: float, conns: int, path: str, per: int) -> dict[str, Any]:
    cmd = ["wrk", "-t", "1", "-c", str(conns), "-d", f"{math.ceil(run_s + 5)}s", "--timeout", "60s",
           "-s", str(ib.LUA), url, "--", str(template), tag, f"{run_s:.3f}", f"{path}?key={ib.KEY}",
           str(per)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WWRESULT "))
    return dict(json.loads(line[len("WWRESULT "):]))


def one(kind: str, load: str, args: argparse.Namespace, folder: Path, work: Path) -> dict[str, Any]:
    data = work / f"{kind}-{load}"
    data.mkdir()
    server = Server(kind, data, args.base)
    per = 1 if load == "single" else int(load.removeprefix("ingest").removeprefix("seed"))
    path = PATHS["single" if load == "single" else load.rstrip("0123456789")]
    conns = args.single_conns if load == "single" else args.bulk_conns
    template = folder / f"{load}.tmpl"
    tag = f"{kind[0].upper()}{load[0]}{per}"
    try:
        warm = wrk(server.url(), template, "w" + tag, args.warmup, conns, path, per)
        cpu0, t0 = ib.proc_cpu(server.pid), time.monotonic()
        r = wrk(server.url(), template, tag, args.duration, conns, path, per)
        cpu = ib.proc_cpu(server.pid) - cpu0
        active = max(r["last_ack"] - r["first_send"], 1e-6)
        rss = ib.proc_rss_mb(server.pid)
    finally:
        server.stop()
    acked = (warm["ok_requests"] + r["ok_requests"]) * per
    res: dict[str, Any] = {
        "server": kind, "load": load, "conns": conns,
        # over first request .. last answer: with 1000-item bodies few answers fall in a short window
        "items_per_s": round(r["ok_requests"] * per / active, 1),
        "requests_per_s": round(r["ok_requests"] / active, 1),
        "server_cpu_us_per_item": round(cpu / max(1, r["ok_requests"] * per) * 1e6, 2),
        "p99_ms": round(r["latency_us"]["p99"] / 1000, 1), "rss_after_mb": round(rss, 1),
        "non_200": r["bad"], "statuses": r["bad_statuses"].strip(), "wall_s": round(time.monotonic() - t0, 1),
    }
    if kind != "bare":
        counts = ib.count_items(data / "wasmwatch.duckdb")
        res |= {"acked": acked, **counts,
                "verified": counts["stored"] == acked == counts["distinct_ids"]}
    shutil.rmtree(data, ignore_errors=True)
    return res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", type=Path, help="checkout of commit 2e0b87d")
    p.add_argument("--servers", default="new,base,bare")
    p.add_argument("--loads", default="ingest1000,ingest100,seed1000,seed100,single")
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--bulk-conns", type=int, default=32)
    p.add_argument("--single-conns", type=int, default=256)
    p.add_argument("--write", action="store_true", help="write bench/out/storage.json")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wwstorage-"))
    folder = work / "t"
    folder.mkdir()
    templates(folder)
    results = []
    failed = False
    try:
        for load in args.loads.split(","):
            for kind in args.servers.split(","):
                if kind == "bare" and load.startswith("seed"):
                    continue  # the bare app answers any body alike: ingest* stands for it
                r = one(kind, load, args, folder, work)
                results.append(r)
                failed |= r.get("verified") is False or bool(r["non_200"])
                print(json.dumps(r), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratios = {}
    by = {(r["server"], r["load"]): r for r in results}
    for load in args.loads.split(","):
        new, base = by.get(("new", load)), by.get(("base", load))
        bare = by.get(("bare", load if not load.startswith("seed") else load.replace("seed", "ingest")))
        ratios[load] = {"new_vs_base": round(new["items_per_s"] / base["items_per_s"], 2) if new and base and base["items_per_s"] else None,
                        "new_vs_bare": round(new["items_per_s"] / bare["items_per_s"], 3) if new and bare else None}
    print(json.dumps({"ratios": ratios}), flush=True)
    if args.write:
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                   "machine": ib.machine_info(), "runs": results, "ratios": ratios},
                                  indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

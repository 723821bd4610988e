"""Ingest against issue 8's targets: this checkout vs an older one vs the bare HTTP app, one run.

Loads (each on a fresh data dir, one server at a time, wrk on the same machine):

==============  ==========================================================================
``bulk1000``    ``/api/v1/ingest``, 1000 mixed items per body, ``--bulk-conns`` connections
``bulk100``     the same with 100 items per body
``seed1000``    ``/api/telemetry/wasm/bulk``, ``{"metrics": [...]}`` of 1000 seed metrics
``seed100``     the same with 100 metrics
``single``      ``/api/v1/ingest``, one item per request, ``--single-conns`` connections
``sdk``         realistic SDK traffic: gzip bodies of 20 mixed items in the SDK's envelope
                (``sent_at``, ``context``, ``lost``, ids ``<load>.<seq base36>``), each body
                sent once (``bodies.lua``), ``--sdk-conns`` connections
==============  ==========================================================================

Servers: ``wasmwatch`` (this checkout), ``wasmwatch-base`` (``--base-bin``: another checkout's
``wasmwatch``, e.g. commit 2e0b87d in a worktree with its own ``.venv``) and ``bare``
(``bare_app.py``: reads the body, answers ``{}``; the HTTP ceiling). For every wasmwatch run the
server is stopped with SIGTERM and the stored count (view or table ``items``, read-only) must
equal the acknowledged count and the distinct ids: the run is marked failed otherwise.

Reported per run: items/s and requests/s in the measured window, server CPU µs per item (the
server process's user+system time over the run / items acknowledged; also by thread, from
``/proc/PID/task``), RSS after, and the
stored count before the window (``--preload-s`` seconds of bulk load first measures the rate
on a fuller store; ``--seed-dir DIR`` starts this checkout's server on a copy of ``DIR``'s
store, e.g. the 10 M items ``bench/query_bench.py`` caches, and checks stored = seed + acked). Ratios: wasmwatch / wasmwatch-base and wasmwatch / bare, same load.

Run: ``.venv/bin/python bench/ingest/targets.py --base-bin ../wt-base/.venv/bin/wasmwatch``
Writes ``bench/out/ingest-targets.json`` (not tracked); prints a Markdown table.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # the shared helpers of bench/ingest

HERE = Path(__file__).resolve().parent
OUT = run.ROOT / "bench" / "out" / "ingest-targets.json"
KEY = run.KEY
LOADS = ("bulk1000", "bulk100", "seed1000", "seed100", "single", "sdk")


# -- bodies ------------------------------------------------------------------------------------

def _seed_metric(index: int, rng: random.Random) -> str:
    """One seed metric whose data carries the request's id prefix (\\1) and a timestamp."""
    kind = rng.choice(["operation", "operation", "bundle_load", "memory", "feature_used", "error"])
    data = {"duration": round(rng.random() ** 3 * 400, 2), "operation": rng.choice(run.OPS),
            "feature": rng.choice(run.FEATURES), "heap_usage": rng.randint(16, 512) * 65536,
            "message": "index out of bounds", "n": f"@ID@-{index:04d}"}
    text = json.dumps({"type": kind, "data": data, "bundle_version": "1.4.2"},
                      separators=(",", ":")).replace("@ID@", "\x01")  # json.dumps escapes \1
    return text.replace('"data":{', '"data":{"timestamp":\x02' + f"{rng.randint(0, 9999):04d},", 1)


def write_templates(folder: Path) -> None:
    """ingest.lua templates: SDK envelopes of 1000 / 100 / 1 items, seed bodies of 1000 / 100."""
    rng = random.Random(8)
    kinds, weights = list(run.MIX), list(run.MIX.values())
    for name, n, count in (("bulk1000", 1000, 4), ("bulk100", 100, 16), ("single", 1, 64)):
        bodies = [run.make_body([(k, run.make_item(k, rng)) for k in rng.choices(kinds, weights, k=n)],
                                rng) for _ in range(count)]
        (folder / f"{name}.tmpl").write_bytes("\0".join(bodies).encode())
    for name, n, count in (("seed1000", 1000, 4), ("seed100", 100, 16)):
        bodies = ['{"metrics":[' + ",".join(_seed_metric(i, rng) for i in range(n)) + "]}"
                  for _ in range(count)]
        (folder / f"{name}.tmpl").write_bytes("\0".join(bodies).encode())


def write_sdk_bodies(path: Path, count: int, now_ms: int, seed: str) -> None:
    """``count`` gzip envelopes of 20 mixed items each, as the SDK sends them, ids unique."""
    rng = random.Random(seed)
    kinds, weights = list(run.MIX), list(run.MIX.values())
    with path.open("wb") as out:
        for b in range(count):
            load = f"{rng.getrandbits(40):x}"[:7]
            items = []
            for seq, kind in enumerate(rng.choices(kinds, weights, k=20), 1):
                item = run.make_item(kind, rng)
                items.append({"id": f"{load}.{b:x}{seq:02x}", "type": kind,
                              "ts": now_ms - rng.randint(0, 20_000), **item})
            envelope = {"sent_at": now_ms, "context": {
                "session": f"s{rng.getrandbits(40):x}", "release": "1.4.2",
                "page": rng.choice(run.PAGES), "connection": "wifi", "device": "desktop",
                "online": True, "sdk": "0.1.0"}, "lost": {}, "items": items}
            body = gzip.compress(json.dumps(envelope, separators=(",", ":")).encode(), 6)
            out.write(f"{len(body):08d}".encode() + body)


# -- one run -----------------------------------------------------------------------------------

def _wrk(server: run.Server, load: str, args: argparse.Namespace, work: Path, tag: str,
         seconds: float) -> dict[str, Any]:
    per = {"bulk1000": 1000, "bulk100": 100, "seed1000": 1000, "seed100": 100, "single": 1,
           "sdk": 20}[load]
    path = ("/api/telemetry/wasm/bulk" if load.startswith("seed") else "/api/v1/ingest") + f"?key={KEY}"
    conns = {"single": args.single_conns, "sdk": args.sdk_conns}.get(load, args.bulk_conns)
    if load == "sdk":
        script, extra = HERE / "bodies.lua", [str(work / f"sdk-{tag}.bin"), f"{seconds:.3f}", path,
                                               str(per), "gzip"]
        write_sdk_bodies(work / f"sdk-{tag}.bin", args.sdk_bodies, int(time.time() * 1000),
                         tag + str(server.port))
    else:
        script, extra = run.LUA, [str(work / f"{load}.tmpl"), tag, f"{seconds:.3f}", path, str(per)]
    cmd = ["wrk", "-t", "1", "-c", str(conns), "-d", f"{int(seconds + args.tail) + 1}s",
           "--timeout", "60s", "-s", str(script), server.url(), "--", *extra]
    proc = run.subprocess.run(cmd, capture_output=True, check=False)
    line = next((ln for ln in proc.stdout.decode().splitlines() if ln.startswith("WWRESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {proc.stdout[-800:]!r} {proc.stderr[-800:]!r}")
    result = dict(json.loads(line[len("WWRESULT "):]))
    result["per_request"] = per
    # the SDK load counts the answers' new items; the seed endpoint answers "success" per body
    by_answer = server.kind.startswith("wasmwatch") and (load == "sdk" or load.startswith("seed"))
    result["acked_items"] = result["accepted"] if by_answer else result["ok_requests"] * per
    return result


def _by_thread(before: dict[str, float], after: dict[str, float], items: int) -> dict[str, float]:
    """µs of CPU per item by thread over the window, the busiest first: ``main`` (the event
    loop) and the others by name (``NAME/TID``; the writer is the busiest of those)."""
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    return {name: round(s / items * 1e6, 2) for name, s in
            sorted(spent.items(), key=lambda kv: -kv[1]) if s > 0}


def scenario(kind: str, load: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    data_dir = work / f"{kind}-{load}"
    data_dir.mkdir()
    stored_at_start = 0
    if args.seed_dir and kind == "wasmwatch":  # a store of this layout only (base is older)
        shutil.copy(args.seed_dir / "wasmwatch.duckdb", data_dir / "wasmwatch.duckdb")
        stored_at_start = run.count_items(data_dir / "wasmwatch.duckdb")["stored"]
    server = run.Server(kind, data_dir, None)
    acked, out = 0, {"server": kind, "load": load, "stored_at_start": stored_at_start}
    try:
        time.sleep(max(0.0, args.idle - (time.monotonic() - server.started)))
        out["rss_idle_mb"] = round(run.proc_rss_mb(server.pid), 1)
        if args.preload_s and load == "bulk1000":
            acked += _wrk(server, "bulk1000", args, work, f"P{kind[0]}", args.preload_s)["acked_items"]
        warm = _wrk(server, load, args, work, f"w{kind[-1]}{load[:2]}", args.warmup)
        acked += warm["acked_items"]
        out["stored_before"] = acked
        out["other_cores_before"] = run.wait_quiet(args.quiet_wait, exclude=server.pid)
        cpu0, threads0 = run.proc_cpu(server.pid), run.thread_cpu(server.pid)
        r = _wrk(server, load, args, work, f"m{kind[-1]}{load[:2]}", args.duration)
        cpu = run.proc_cpu(server.pid) - cpu0
        out["thread_cpu_us_per_item"] = _by_thread(threads0, run.thread_cpu(server.pid),
                                                   max(1, r["acked_items"]))
        acked += r["acked_items"]
        items = r["acked_items"] * r["ok_in_window"] / max(1, r["ok_requests"])
        out |= {"items_per_s": round(items / r["window_s"]),
                "requests_per_s": round(r["ok_in_window"] / r["window_s"]),
                "server_cpu_us_per_item": round(cpu / max(1, r["acked_items"]) * 1e6, 2),
                "latency_p99_ms": round(r["latency_us"]["p99"] / 1000, 1),
                "non_200": r["bad"], "statuses": r["bad_statuses"].strip(),
                "unanswered": r["sent"] - r["ok_requests"] - r["bad"],
                "duplicates": r["duplicates"], "rss_after_mb": round(run.proc_rss_mb(server.pid), 1)}
    finally:
        server.stop()
    if kind.startswith("wasmwatch"):
        counts = run.count_items(data_dir / "wasmwatch.duckdb")
        new = counts["stored"] - stored_at_start  # the seed's ids are distinct from the bench's
        out |= counts | {"acked": acked, "verified": new == acked
                         and counts["stored"] == counts["distinct_ids"]}
    shutil.rmtree(data_dir, ignore_errors=True)
    return out


# -- report ------------------------------------------------------------------------------------

def table(results: list[dict[str, Any]]) -> str:
    by = {(r["server"], r["load"]): r for r in results}
    lines = ["| load | wasmwatch items/s | base items/s | bare items/s | vs base | vs bare | "
             "µs CPU/item (new / base) | stored = acked |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for load in dict.fromkeys(r["load"] for r in results):
        new, base, bare = (by.get((k, load)) for k in ("wasmwatch", "wasmwatch-base", "bare"))
        def num(r: dict[str, Any] | None, key: str = "items_per_s") -> str:
            return "—" if r is None else f"{r[key]:,}"
        def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
            return "—" if not a or not b or not b["items_per_s"] else f"{a['items_per_s'] / b['items_per_s']:.2f}x"
        cpu = " / ".join("—" if r is None else f"{r['server_cpu_us_per_item']}" for r in (new, base))
        ok = " / ".join("—" if r is None else str(r.get("verified")) for r in (new, base))
        lines.append(f"| {load} | {num(new)} | {num(base)} | {num(bare)} | {ratio(new, base)} | "
                     f"{ratio(new, bare)} | {cpu} | {ok} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-bin", type=Path, default=Path(os.environ.get(
        "WASMWATCH_BASE_BIN", run.ROOT.parent / "wt-base" / ".venv" / "bin" / "wasmwatch")))
    parser.add_argument("--servers", default="wasmwatch,wasmwatch-base,bare")
    parser.add_argument("--extra-bin", action="append", default=[], metavar="NAME=PATH",
                        help="one more server to run, as wasmwatch-NAME (add it to --servers): "
                        "another checkout's wasmwatch, e.g. main before a change; repeatable")
    parser.add_argument("--loads", default=",".join(LOADS))
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--tail", type=float, default=15.0,
                        help="seconds wrk waits for answers after the last request is sent")
    parser.add_argument("--idle", type=float, default=3.0)
    parser.add_argument("--preload-s", type=float, default=0.0,
                        help="seconds of bulk load before the bulk1000 figure (a fuller store)")
    parser.add_argument("--seed-dir", type=Path, default=None,
                        help="a data dir (of this layout) copied into wasmwatch's data dir first: "
                        "the rate with that many items stored (e.g. bench/query_bench.py's 10 M)")
    parser.add_argument("--quiet-wait", type=float, default=10.0)
    parser.add_argument("--bulk-conns", type=int, default=64)
    parser.add_argument("--single-conns", type=int, default=256)
    parser.add_argument("--sdk-conns", type=int, default=64)
    parser.add_argument("--sdk-bodies", type=int, default=40_000)
    args = parser.parse_args(argv)
    kinds = [k for k in args.servers.split(",") if k]
    if "wasmwatch-base" in kinds:
        if not args.base_bin.exists():
            print(f"no base server at {args.base_bin}: give --base-bin", file=sys.stderr)
            return 2
        run.WASMWATCH_BINS["wasmwatch-base"] = args.base_bin
    for spec in args.extra_bin:
        name, _, path = spec.partition("=")
        run.WASMWATCH_BINS[f"wasmwatch-{name}"] = Path(path)
    work = Path(tempfile.mkdtemp(prefix="wwtargets-"))
    write_templates(work)
    info = run.machine_info() | {"loadavg_start": os.getloadavg()}
    print(json.dumps(info), flush=True)
    results = []
    try:
        for load in [ld for ld in args.loads.split(",") if ld]:
            for kind in kinds:
                r = scenario(kind, load, args, work)
                results.append(r)
                print(json.dumps(r), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    info["loadavg_end"] = os.getloadavg()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"machine": info, "args": {k: str(v) for k, v in vars(args).items()},
                               "runs": results}, indent=2) + "\n")
    print(table(results))
    for extra in dict.fromkeys(r["server"] for r in results
                               if r["server"] not in ("wasmwatch", "wasmwatch-base", "bare")):
        print(table([{**r, "server": "wasmwatch-base"} if r["server"] == extra else r
                     for r in results if r["server"] != "wasmwatch-base"]
                    ).replace("base items/s", f"{extra} items/s").replace("vs base", f"vs {extra}"))
    # 503 and 429 (with Retry-After) are the server's advertised back-pressure, counted in the
    # table, not a failure; any other answer, an unanswered request or stored != acked is
    refused = {"429", "503"}
    failed = [r for r in results if r.get("verified") is False or r["unanswered"]
              or (r["non_200"] and not set(r["statuses"].split()) <= refused)]
    if failed:
        print(f"FAILED: {len(failed)} runs with stored != acked, unanswered requests or answers "
              f"other than 200, 429 and 503", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

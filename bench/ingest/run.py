"""Ingest benchmark: wasmwatch versus an HTTP ceiling and a naive server, under one wrk.

Measures, in one run and on this machine:

1. durable bulk ingest: items/s with 1000-item batches (a realistic mix of item types, ids
   unique per item) at ``--bulk-conns`` connections, and server CPU seconds per item;
2. single-item ingest: requests/s with 1 item per request at ``--single-conns`` connections;
3. the same two loads against two baselines on the same embedded granian: ``bare_app.py`` (reads
   the body, answers ``{}``: the HTTP ceiling) and ``naive_app.py`` (stdlib ``json`` and one
   ``executemany`` transaction per request: what a simple app would do);
4. after each wasmwatch run: SIGTERM, then the stored count (``items`` in ``wasmwatch.duckdb``,
   opened read-only) must equal the acknowledged count;

plus the idle RSS of each server (5 s after start) and wasmwatch's RSS after the bulk run.

The load generator is wrk with ``ingest.lua``: each request's body is a pre-built template
whose id prefix and timestamps are filled in by one ``gsub``, so ids are unique per request at
little client CPU. The client shares the 2 cores with the server; its CPU is measured too.

Run: ``.venv/bin/python bench/ingest/run.py [--quick] [--pin] [--repeat N]``
Writes ``bench/out/ingest.json`` and the figures section of ``bench/ingest/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = ROOT / "bench" / "out" / "ingest.json"
RESULTS = HERE / "RESULTS.md"
LUA = HERE / "ingest.lua"
VENV_BIN = Path(sys.executable).parent
KEY = "benchkey"
CLK_TCK = os.sysconf("SC_CLK_TCK")
BATCH = 1000
KINDS = ("wasmwatch", "wasmwatch-1cpu", "bare", "naive")
#: the ``wasmwatch serve`` executable per server kind (default: this checkout's; targets.py adds
#: ``wasmwatch-base``, an older checkout's, to compare against in the same run)
WASMWATCH_BINS: dict[str, Path] = {}
BEGIN_MARK = "<!-- figures:begin (written by run.py) -->"
END_MARK = "<!-- figures:end -->"

# -- request bodies -----------------------------------------------------------------------------

OPS = ["render", "layout", "parse", "encode_png", "decode_png", "diff", "save", "load",
       "compile_shader", "physics_step", "audio_mix", "search", "undo", "redo", "export", "import"]
FEATURES = ["dark_mode", "export_pdf", "share_link", "offline_mode", "shortcuts", "zoom",
            "collab", "plugins", "templates", "history"]
PAGES = ["/", "/editor", "/settings", "/share", "/help"]
ERROR_KINDS = ["RuntimeError", "TypeError", "unreachable", "RangeError"]
# type -> weight; roughly what a WASM app's SDK sends once it is past start-up
MIX = {"operation": 45, "measurement": 12, "feature": 10, "memory": 8, "engagement": 8,
       "error": 5, "bundle_load": 4, "runtime_init": 4, "offline_sync": 4}


def _stack(rng: random.Random) -> str:
    frames = []
    for depth in range(rng.randint(6, 14)):
        fn = rng.randint(10, 900)
        frames.append(f"    at app::module_{depth}::func_{fn} (wasm://wasm/6d7c9f1e:"
                      f"wasm-function[{fn}]:0x{rng.randint(0x100, 0xfffff):x})")
    frames.append("    at https://app.example.com/assets/app.js:1:23456")
    return "Error\n" + "\n".join(frames)


def make_item(kind: str, rng: random.Random) -> dict[str, Any]:
    """One item of type ``kind`` without ``id`` and ``ts`` (the template adds them)."""
    r = rng.random
    if kind == "operation":
        return {"name": rng.choice(OPS), "ms": round(r() ** 3 * 400, 2), "ok": r() > 0.02,
                "offline": r() < 0.05, "expected_ms": 50}
    if kind == "measurement":
        return {"name": rng.choice(["fps", "frame_ms", "heap_ratio", "queue_len"]),
                "value": round(r() * 120, 3), "unit": "count",
                "tags": {"scene": rng.choice(["a", "b", "c"]), "gpu": r() > 0.3, "level": rng.randint(1, 9)}}
    if kind == "feature":
        return {"name": rng.choice(FEATURES)}
    if kind == "memory":
        return {"wasm_bytes": rng.randint(16, 512) * 65536, "js_heap_bytes": rng.randint(10, 200) * 1_000_000,
                "grow_count": rng.randint(0, 20), "gc_count": rng.randint(0, 50), "gc_ms": round(r() * 30, 2)}
    if kind == "engagement":
        return {"visible_ms": rng.randint(1000, 600_000), "online": r() > 0.05, "page": rng.choice(PAGES)}
    if kind == "error":
        return {"category": rng.choice(["critical", "runtime", "application"]), "kind": rng.choice(ERROR_KINDS),
                "message": f"index out of bounds: the len is {rng.randint(1, 99)} but the index is "
                           f"{rng.randint(100, 999)}", "stack": _stack(rng),
                "operation": rng.choice(OPS), "memory_bytes": rng.randint(16, 512) * 65536}
    if kind == "bundle_load":
        return {"url": "https://app.example.com/assets/app_bg.wasm?v=1.4.2",
                "transfer_bytes": rng.randint(800_000, 3_000_000), "decoded_bytes": rng.randint(3_000_000, 9_000_000),
                "cached": r() > 0.4, "streaming": True, "fetch_ms": round(r() * 900, 1),
                "compile_ms": round(r() * 300, 1), "instantiate_ms": round(r() * 40, 1),
                "total_ms": round(r() * 1300, 1)}
    if kind == "runtime_init":
        return {"ms": round(r() * 200, 2)}
    if kind == "offline_sync":
        return {"synced": rng.randint(0, 50), "ms": round(r() * 800, 1), "conflicts": rng.randint(0, 2),
                "ok": r() > 0.05, "pending": rng.randint(0, 10)}
    raise ValueError(kind)


def make_body(items: list[tuple[str, dict[str, Any]]], rng: random.Random) -> str:
    """An envelope in which \\1 = id prefix, \\2 = ts leading digits, \\3 = sent_at."""
    ctx = {"session": f"s{rng.getrandbits(40):x}", "release": rng.choice(["1.4.1", "1.4.2", "1.5.0"]),
           "page": rng.choice(PAGES) + "?tab=2", "connection": rng.choice(["4g", "wifi", "3g"]),
           "device": "desktop", "online": True, "sdk": "0.1.0"}
    parts = []
    for index, (item_type, item) in enumerate(items):
        rest = json.dumps(item, separators=(",", ":"))[1:]
        parts.append(f'{{"id":"\x01-{index:04d}","type":"{item_type}","ts":\x02'
                     f'{rng.randint(0, 9999):04d},' + rest)
    return ('{"sent_at":\x03,"context":' + json.dumps(ctx, separators=(",", ":"))
            + ',"lost":{"queue_full":0},"items":[' + ",".join(parts) + "]}")


def write_templates(folder: Path) -> dict[str, Any]:
    rng = random.Random(20251125)
    kinds, weights = list(MIX), list(MIX.values())
    bulk = [make_body([(k, make_item(k, rng)) for k in rng.choices(kinds, weights, k=BATCH)], rng)
            for _ in range(4)]
    single = [make_body([(k, make_item(k, rng))], rng) for k in rng.choices(kinds, weights, k=64)]
    for name, bodies in (("bulk", bulk), ("single", single)):
        (folder / f"{name}.tmpl").write_bytes("\0".join(bodies).encode())
    return {"bulk_body_bytes": round(statistics.mean(len(b) for b in bulk)),
            "single_body_bytes": round(statistics.mean(len(b) for b in single))}


# -- processes ----------------------------------------------------------------------------------

def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds by thread: "main" (the event loop) and "NAME/TID" for the others (Python
    threads keep the process name, so the writer thread shows as one of those)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        key = "main" if task.name == str(pid) else f"{name}/{task.name}"
        out[key] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def machine_busy_cpu() -> float:
    """CPU seconds all cores spent busy in tasks since boot (user, nice, system, steal: not
    idle, iowait, or interrupts, whose time no process is charged with)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (f[0] + f[1] + f[2] + f[7]) / CLK_TCK


def machine_irq_cpu() -> float:
    """CPU seconds in hard and soft interrupts since boot: mostly loopback TCP receive work
    for the benchmark's own traffic, charged to no process."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (f[5] + f[6]) / CLK_TCK


def wait_quiet(max_wait: float, limit: float = 0.2, exclude: int | None = None) -> float:
    """Wait (up to ``max_wait`` s) for a second in which the rest of the machine uses less than
    ``limit`` cores (other sessions share it); returns the cores it used in the last second."""
    deadline = time.monotonic() + max_wait
    while True:
        b0, x0 = machine_busy_cpu(), proc_cpu(exclude) if exclude else 0.0
        time.sleep(1.0)
        other = machine_busy_cpu() - b0 - ((proc_cpu(exclude) - x0) if exclude else 0.0)
        if other < limit or time.monotonic() >= deadline:
            return round(other, 2)


def listeners(port: int) -> set[str]:
    """Pids listening on a TCP port (granian sets SO_REUSEPORT: a stray server would share it)."""
    out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
    return set(re.findall(r"pid=(\d+)", out))


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    """A free TCP port: from ``WASMWATCH_BENCH_PORTS`` (``LO-HI``, when several benchmarks
    share the machine, each its own range) with nothing listening, else one the OS picks."""
    span = os.environ.get("WASMWATCH_BENCH_PORTS")
    if span:
        lo, hi = (int(v) for v in span.split("-"))
        for port in range(lo, hi + 1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            if not listeners(port):
                return port
        raise RuntimeError(f"no free port in {span}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def taskset(cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus] if cpus else []


class Server:
    """One server process: wasmwatch, bare or naive."""

    def __init__(self, kind: str, data_dir: Path, cpus: str | None) -> None:
        self.kind = kind
        self.port = free_port()
        self.data_dir = data_dir
        env = dict(os.environ, WASMWATCH_INGEST_KEY=KEY, WASMWATCH_ADMIN_TOKEN="t",
                   WASMWATCH_RATE_LIMIT="100000000", PYTHONUNBUFFERED="1",
                   # all load comes from one address and key: measure ingest, not the limits
                   WASMWATCH_KEY_RATE_LIMIT="0", WASMWATCH_ADDRESS_RATE_LIMIT="0")
        if kind.startswith("wasmwatch"):
            cmd = [str(WASMWATCH_BINS.get(kind, VENV_BIN / "wasmwatch")), "serve", "--host", "127.0.0.1", "--port",
                   str(self.port), "--data-dir", str(data_dir)]
        elif kind == "bare":
            cmd = [sys.executable, str(HERE / "bare_app.py"), "--port", str(self.port)]
        elif kind == "naive":
            cmd = [sys.executable, str(HERE / "naive_app.py"), "--port", str(self.port),
                   "--data-dir", str(data_dir), "--key", KEY]
        else:
            raise ValueError(kind)
        self.log = open(data_dir.parent / f"{data_dir.name}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(taskset(cpus) + cmd, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=ROOT)
        self.pid = self.proc.pid
        self.started = time.monotonic()
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited with {self.proc.returncode}; "
                                   f"see {self.log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            others = listeners(self.port) - {str(self.pid)}
            if others:
                raise RuntimeError(f"port {self.port} is shared with pids {sorted(others)}")
            return
        raise RuntimeError(f"{self.kind} server did not listen within {timeout} s")

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 120.0, kill_after: float | None = None) -> float | None:
        """SIGTERM and wait; returns seconds to exit, or None when it was killed after
        ``kill_after`` seconds (the naive server still working through queued requests)."""
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(kill_after or timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.log.close()
            if kill_after is not None:
                return None
            raise RuntimeError(f"{self.kind} server did not stop within {timeout} s") from None
        self.log.close()
        if code not in (0, -signal.SIGTERM):
            raise RuntimeError(f"{self.kind} server exited with {code}; see {self.log.name}")
        return time.monotonic() - t


def run_wrk(url: str, template: Path, tag: str, run_s: float, tail_s: float, conns: int,
            threads: int, per_request: int, cpus: str | None) -> dict[str, Any]:
    """One wrk run; its Lua result plus the client's CPU seconds."""
    cmd = [
        *taskset(cpus), "wrk", "-t", str(threads), "-c", str(conns), "-d", f"{math.ceil(run_s + tail_s)}s",
        "--timeout", "60s", "-s", str(LUA), url, "--", str(template), tag, f"{run_s:.3f}",
        f"/api/v1/ingest?key={KEY}", str(per_request)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    # communicate() reaped the child: its rusage is in RUSAGE_CHILDREN; take it by difference
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.decode()[-2000:]}")
    line = next((ln for ln in out.decode().splitlines() if ln.startswith("WWRESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.decode()[-2000:]}\n{err.decode()[-2000:]}")
    return dict(json.loads(line[len("WWRESULT "):]))


def children_cpu() -> float:
    ru = os.times()
    return ru.children_user + ru.children_system


def count_items(db: Path, table: str = "items") -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute(f"SELECT count(*), count(DISTINCT id) FROM {table}").fetchone()
    finally:
        con.close()
    assert row is not None
    return {"stored": int(row[0]), "distinct_ids": int(row[1])}


# -- scenarios ----------------------------------------------------------------------------------

def measure(server: Server, args: argparse.Namespace, load: str, tag: str, templates: Path,
            warm: bool = True) -> dict[str, Any]:
    """Warm up, then one measured wrk run, with server and client CPU."""
    bulk = load == "bulk"
    per_request = BATCH if bulk else 1
    conns = args.bulk_conns if bulk else args.single_conns
    template = templates / f"{load}.tmpl"
    acked = 0
    if warm:
        w = run_wrk(server.url(), template, f"w{tag}", args.warmup, args.tail, conns,
                    args.threads, per_request, args.client_cpus)
        acked += w["ok_requests"] * per_request
    quiet = wait_quiet(args.quiet_wait, exclude=server.pid)
    cpu0, tcpu0, ccpu0, t0 = proc_cpu(server.pid), thread_cpu(server.pid), children_cpu(), time.monotonic()
    busy0, irq0 = machine_busy_cpu(), machine_irq_cpu()
    r = run_wrk(server.url(), template, tag, args.duration, args.tail, conns, args.threads,
                per_request, args.client_cpus)
    wall = time.monotonic() - t0
    cpu1, tcpu1, ccpu1 = proc_cpu(server.pid), thread_cpu(server.pid), children_cpu()
    busy1, irq1 = machine_busy_cpu(), machine_irq_cpu()
    acked += r["ok_requests"] * per_request
    items_window = r["ok_in_window"] * per_request
    items_all = r["ok_requests"] * per_request
    server_cpu = cpu1 - cpu0
    active = max(r["last_ack"] - r["first_send"], r["window_s"])
    client_cpu = ccpu1 - ccpu0
    by_thread = dict(sorted(((k, round(v - tcpu0.get(k, 0.0), 2)) for k, v in tcpu1.items()
                            if v - tcpu0.get(k, 0.0) >= 0.05), key=lambda kv: -kv[1]))
    return {
        "load": load, "connections": conns, "items_per_request": per_request,
        "window_s": round(r["window_s"], 3),
        "requests_per_s": round(r["ok_in_window"] / r["window_s"], 1),
        "items_per_s": round(items_window / r["window_s"], 1),
        "latency_ms": {k: round(v / 1000, 2) for k, v in r["latency_us"].items()},
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_us_per_item": round(server_cpu / items_all * 1e6, 3) if items_all else None,
        # over first request .. last answer (the drain after the deadline included)
        "server_cores_busy": round(server_cpu / active, 2),
        "server_cpu_by_thread_s": by_thread,
        "client_cpu_s": round(client_cpu, 2),
        "client_cpu_us_per_item": round(client_cpu / items_all * 1e6, 3) if items_all else None,
        "client_cores_busy": round(client_cpu / active, 2),
        "wall_s": round(wall, 2),
        # busy CPU of the other processes on the machine meanwhile (noise)
        "other_cpu_s": round(busy1 - busy0 - server_cpu - client_cpu, 2),
        "other_cores_before": quiet,
        "other_cores_busy": round((busy1 - busy0 - server_cpu - client_cpu) / wall, 2),
        "irq_cpu_us_per_item": round((irq1 - irq0) / items_all * 1e6, 3) if items_all else None,
        "acked_requests": r["ok_requests"], "acked_items_total": acked,
        "accepted": r["accepted"], "duplicates": r["duplicates"],
        "requests_with_rejections": r["rejected"], "non_200": r["bad"],
        "non_200_statuses": r["bad_statuses"].strip(), "socket_errors": r["errors"],
        "unanswered": r["sent"] - r["ok_requests"] - r["bad"],
    }


def scenario(kind: str, load: str, args: argparse.Namespace, templates: Path, work: Path,
             run: int) -> dict[str, Any]:
    data_dir = work / f"{kind}-{load}-{run}"
    data_dir.mkdir()
    if kind.endswith("-1cpu"):  # the same server held to one core, wrk on the other
        args = argparse.Namespace(**{**vars(args), "server_cpus": "0", "client_cpus": "1"})
    server = Server(kind, data_dir, args.server_cpus)
    result: dict[str, Any] = {"server": kind, "server_cpus": args.server_cpus or "any",
                              "client_cpus": args.client_cpus or "any"}
    try:
        if load == "bulk" and run == 0:
            time.sleep(max(0.0, args.idle - (time.monotonic() - server.started)))
            result["rss_idle_mb"] = round(proc_rss_mb(server.pid), 1)
        tag = {"wasmwatch": "W", "wasmwatch-1cpu": "P", "bare": "B", "naive": "N"}[kind] + \
            load[0] + str(run)
        # the naive server takes >1 s per 1000-item request: a warm-up would leave it minutes of
        # queued work (abandoned by wrk, still executed), so it runs cold
        result |= measure(server, args, load, tag, templates, warm=kind != "naive")
        result["rss_after_mb"] = round(proc_rss_mb(server.pid), 1)
    finally:
        stopped = server.stop(kill_after=10.0 if kind == "naive" else None)
        result["stop_s"] = None if stopped is None else round(stopped, 2)
    if kind.startswith("wasmwatch"):
        counts = count_items(data_dir / "wasmwatch.duckdb")
        result |= counts
        result["verified"] = (counts["stored"] == result["acked_items_total"]
                              == counts["distinct_ids"])
    elif kind == "naive":
        # the naive server is killed with requests still queued: every acknowledged item must
        # be stored, and more may be (requests wrk gave up on, committed meanwhile)
        counts = count_items(data_dir / "naive.duckdb")
        result |= counts
        result["stored_covers_acked"] = counts["stored"] >= result["acked_items_total"]
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


# -- report -------------------------------------------------------------------------------------

def machine_info() -> dict[str, Any]:
    import duckdb
    import granian
    import msgspec

    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), "unknown")
    mem = next((ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), "0")
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "wasmwatch"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(), "cpu_model": model, "mem_gib": round(int(mem) / 1024 / 1024, 1),
        "kernel": platform.release(), "python": platform.python_version(),
        "duckdb": duckdb.__version__, "granian": granian.__version__,
        "msgspec": msgspec.__version__,
        "wrk": ((wrk.stdout or wrk.stderr).splitlines() or ["?"])[0].split(" Copyright")[0],
        "wasmwatch_revision": rev + (" + uncommitted changes in wasmwatch/" if dirty else ""),
    }


def median_run(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The run whose ``key`` is the median (the lower one for an even count)."""
    ordered = sorted(runs, key=lambda r: r[key])
    return ordered[(len(ordered) - 1) // 2]


def summarize(results: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    pick: dict[str, dict[str, dict[str, Any]]] = {}
    for kind, loads in results.items():
        pick[kind] = {}
        for load, runs in loads.items():
            pick[kind][load] = median_run(runs, "items_per_s" if load == "bulk" else "requests_per_s")
    out: dict[str, Any] = {"median": pick, "ratios": {}}
    w = pick.get("wasmwatch", {})
    for base in ("bare", "naive"):
        b = pick.get(base, {})
        if "bulk" in w and "bulk" in b and b["bulk"]["items_per_s"]:
            out["ratios"][f"bulk_items_per_s_vs_{base}"] = round(
                w["bulk"]["items_per_s"] / b["bulk"]["items_per_s"], 3)
        if "single" in w and "single" in b and b["single"]["requests_per_s"]:
            out["ratios"][f"single_requests_per_s_vs_{base}"] = round(
                w["single"]["requests_per_s"] / b["single"]["requests_per_s"], 3)
    return out


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def figures_markdown(report: dict[str, Any]) -> str:
    m, cfg = report["machine"], report["config"]
    med, ratios = report["summary"]["median"], report["summary"]["ratios"]
    runs = report["runs"]
    lines = [
        BEGIN_MARK,
        f"## Figures ({report['date']}, `{report['command']}`)",
        "",
        f"Machine: {m['nproc']} cores, {m['cpu_model']}, {m['mem_gib']} GiB, Linux {m['kernel']}; "
        f"Python {m['python']}, DuckDB {m['duckdb']}, granian {m['granian']}, msgspec "
        f"{m['msgspec']}, {m['wrk']}; wasmwatch at {m['wasmwatch_revision']}.",
        "",
        f"Load: {cfg['duration_s']} s measured per figure after {cfg['warmup_s']} s warm-up; "
        f"bulk {cfg['bulk_conns']} connections x {BATCH}-item bodies "
        f"(~{cfg['bulk_body_bytes'] // 1024} KiB), single {cfg['single_conns']} connections x "
        f"1-item bodies (~{cfg['single_body_bytes']} B); wrk {cfg['threads']} thread(s); "
        f"pinning: {cfg['pinning']}. Median of {cfg['repeat']} run(s) per figure "
        "(each run on a fresh server and data dir).",
        "",
        "| server | load | items/s | req/s | p50 / p99 ms | server CPU µs/item | server cores "
        "| client CPU µs/item | client cores | irq µs/item | other load, cores | stored = acked |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for kind in KINDS:
        for load in ("bulk", "single"):
            r = med.get(kind, {}).get(load)
            if not r:
                continue
            verified = r.get("verified")
            check = ("—" if verified is None else
                     f"{'yes' if verified else 'NO'} ({r['stored']:,} / {r['acked_items_total']:,})")
            lines.append(
                f"| {kind} | {load} | {r['items_per_s']:,.0f} | {r['requests_per_s']:,.0f} | "
                f"{r['latency_ms']['p50']:.1f} / {r['latency_ms']['p99']:.1f} | "
                f"{r['server_cpu_us_per_item']:.2f} | {r['server_cores_busy']:.2f} | "
                f"{r['client_cpu_us_per_item']:.2f} | {r['client_cores_busy']:.2f} | "
                f"{_num(r.get('irq_cpu_us_per_item'))} | {r['other_cores_busy']:.2f} | {check} |")
    labels = {
        "bulk_items_per_s_vs_bare": "bulk items/s, wasmwatch / bare granian (HTTP ceiling)",
        "single_requests_per_s_vs_bare": "single req/s, wasmwatch / bare granian (HTTP ceiling)",
        "bulk_items_per_s_vs_naive": "bulk items/s, wasmwatch / naive (json + executemany)",
        "single_requests_per_s_vs_naive": "single req/s, wasmwatch / naive (json + executemany)",
    }
    lines += ["", "| ratio | value |", "|---|---:|"]
    for name, value in ratios.items():
        lines.append(f"| {labels.get(name, name)} | {value:.3g}x |")
    bound = [f"{k} {ld}" for k in KINDS for ld in ("bulk", "single")
             if med.get(k, {}).get(ld, {}).get("client_cores_busy", 0) >= 0.95]
    if bound:
        lines += ["", "Client-bound (wrk's one thread at ~1 core, so the server could go faster: the "
                  "figure is a lower bound): " + ", ".join(bound) + "."]
    w = med.get("wasmwatch", {})
    targets = []
    if "bulk" in w:
        v = w["bulk"]["items_per_s"]
        targets.append(f"bulk ≥ 250,000 items/s: {v:,.0f} ({'met' if v >= 250_000 else 'missed'})")
    if "single" in w:
        v = w["single"]["requests_per_s"]
        targets.append(f"single ≥ 10,000 req/s: {v:,.0f} ({'met' if v >= 10_000 else 'missed'})")
    lines += ["", "Targets: " + "; ".join(targets) + "."]
    threads = []
    for kind in ("wasmwatch", "wasmwatch-1cpu"):
        for load in ("bulk", "single"):
            r = med.get(kind, {}).get(load)
            if r and r.get("server_cpu_by_thread_s"):
                parts = ", ".join(f"{k} {v:.1f}" for k, v in list(r["server_cpu_by_thread_s"].items())[:5])
                threads.append(f"{kind} {load} ({r['server_cpu_s']:.1f} s in all): {parts}")
    if threads:
        lines += ["", "Server CPU seconds by thread in the median run (main = the event loop; the "
                  "writer is the busiest of the others; granian's Rust threads and DuckDB's worker "
                  "make up the rest): " + "; ".join(threads) + "."]
    rss = []
    for kind in KINDS:
        r = med.get(kind, {}).get("bulk", {})
        first = next((x for x in runs.get(kind, {}).get("bulk", []) if "rss_idle_mb" in x), None)
        if first:
            rss.append(f"{kind} {first['rss_idle_mb']:.0f} MB idle"
                       + (f", {r['rss_after_mb']:.0f} MB after the bulk run" if r else ""))
    lines += ["", "RSS (5 s after start; after the bulk run): " + "; ".join(rss) + "."]
    all_runs = [(k, ld, x) for k, loads in runs.items() for ld, xs in loads.items() for x in xs]
    lines += ["", "All runs (items/s for bulk, req/s for single): " + "; ".join(
        f"{k} {ld} " + ", ".join(
            f"{x['items_per_s'] if ld == 'bulk' else x['requests_per_s']:,.0f}"
            for x in runs[k][ld])
        for k, ld in dict.fromkeys((k, ld) for k, ld, _ in all_runs)) + "."]
    lines.append(END_MARK)
    return "\n".join(lines)


RESULTS_HEAD = """# Ingest benchmark

`bench/ingest/run.py` measures durable ingest of `wasmwatch serve` against two baselines on the
same machine, with the same load generator, in one run. See the docstring of `run.py` for the
method; the figures below are rewritten by each full run (the text outside the markers is kept).

"""


def write_results(report: dict[str, Any]) -> None:
    section = figures_markdown(report)
    text = RESULTS.read_text() if RESULTS.exists() else RESULTS_HEAD + BEGIN_MARK + "\n" + END_MARK + "\n"
    if BEGIN_MARK in text and END_MARK in text:
        head, rest = text.split(BEGIN_MARK, 1)
        tail = rest.split(END_MARK, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)


# -- main ---------------------------------------------------------------------------------------

def render_only() -> int:
    """Rewrite the figures section of RESULTS.md from bench/out/ingest.json."""
    report = json.loads(OUT.read_text())
    write_results(report)
    print(f"rewrote {RESULTS.relative_to(ROOT)} from {OUT.relative_to(ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2.5 s per figure instead of 10 s")
    parser.add_argument("--duration", type=float, help="measured seconds per figure")
    parser.add_argument("--warmup", type=float, help="warm-up seconds before each figure")
    parser.add_argument("--tail", type=float, default=5.0,
                        help="seconds wrk waits after the last request is sent (for answers)")
    parser.add_argument("--idle", type=float, default=5.0, help="idle seconds before the RSS reading")
    parser.add_argument("--bulk-conns", type=int, default=64)
    parser.add_argument("--single-conns", type=int, default=256)
    parser.add_argument("--quiet-wait", type=float,
                        help="max seconds to wait for the machine to be quiet before each figure")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure (median reported)")
    parser.add_argument("--pin", action="store_true",
                        help="pin the server to CPU 0 and wrk to CPU 1 with taskset")
    parser.add_argument("--servers", default=",".join(KINDS),
                        help="wasmwatch-1cpu is wasmwatch pinned to CPU 0 with wrk on CPU 1")
    parser.add_argument("--loads", default="bulk,single")
    parser.add_argument("--keep", action="store_true", help="keep data dirs and server logs")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md / JSON")
    parser.add_argument("--render-only", action="store_true",
                        help="only rewrite RESULTS.md's figures from bench/out/ingest.json")
    args = parser.parse_args(argv)
    if args.render_only:
        return render_only()
    args.duration = args.duration or (2.5 if args.quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 1.0)
    if args.quiet_wait is None:
        args.quiet_wait = 20.0 if args.quick else 120.0
    args.server_cpus, args.client_cpus = ("0", "1") if args.pin else (None, None)
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="wwbench-"))
    templates = work / "templates"
    templates.mkdir()
    sizes = write_templates(templates)
    info = machine_info()
    print(json.dumps(info), flush=True)
    kinds = [k for k in args.servers.split(",") if k]
    loads = [ld for ld in args.loads.split(",") if ld]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {k: {ld: [] for ld in loads} for k in kinds}
    failed = False
    log: Callable[[str], None] = lambda s: print(s, flush=True)  # noqa: E731
    try:
        for run in range(args.repeat):
            for kind in kinds:
                for load in loads:
                    r = scenario(kind, load, args, templates, work, run)
                    results[kind][load].append(r)
                    failed |= (r.get("verified") is False or r.get("stored_covers_acked") is False
                               or bool(r["non_200"])
                               or (kind != "naive" and bool(r["unanswered"])))
                    log(f"[{run}] {kind:9s} {load:6s} items/s={r['items_per_s']:>11,.0f} "
                        f"req/s={r['requests_per_s']:>9,.0f} p99={r['latency_ms']['p99']:.1f}ms "
                        f"srv={r['server_cpu_us_per_item']}us/item ({r['server_cores_busy']:.2f} cores) "
                        f"cli={r['client_cpu_us_per_item']}us/item ({r['client_cores_busy']:.2f} cores) "
                        f"other={r['other_cores_busy']} cores (before {r['other_cores_before']})"
                        + (f" rss_idle={r['rss_idle_mb']}MB" if "rss_idle_mb" in r else "")
                        + f" rss_after={r['rss_after_mb']}MB"
                        + (f" stored={r['stored']} acked={r['acked_items_total']} ok={r['verified']}"
                           if "verified" in r else "")
                        + (f" non200={r['non_200']}({r['non_200_statuses']})" if r["non_200"] else "")
                        + (f" unanswered={r['unanswered']} sockerr={r['socket_errors']}" if r["unanswered"] else ""))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")
    command = ".venv/bin/python bench/ingest/run.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])
                                                          if (argv or sys.argv[1:]) else "")
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": command.strip(),
        "machine": info,
        "config": {"duration_s": args.duration, "warmup_s": args.warmup, "tail_s": args.tail,
                   "bulk_conns": args.bulk_conns, "single_conns": args.single_conns,
                   "threads": args.threads, "repeat": args.repeat,
                   "pinning": "server CPU 0, wrk CPU 1 (taskset)" if args.pin else "none",
                   **sizes},
        "runs": results,
        "summary": summarize(results),
    }
    log(json.dumps(report["summary"]["ratios"]))
    if not args.no_write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(report, indent=2) + "\n")
        write_results(report)
        log(f"wrote {OUT.relative_to(ROOT)} and {RESULTS.relative_to(ROOT)}")
    if failed:
        log("FAILED: a stored count differs from the acknowledged count, or requests failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

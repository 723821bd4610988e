"""Idle memory of a real `wasmwatch serve`, stage by stage, broken down as the kernel counts it.

For each target (a Python interpreter with wasmwatch installed, e.g. another worktree's
.venv), on an empty data dir:

1. ``start``: ``python -m wasmwatch serve`` until ``/healthz`` answers, then until RSS has
   not moved by more than 1 MB for 2 s (at most ``--settle-s``);
2. ``ingest``: one 20-item body of the bench mix posted, then settled again;
3. ``queries``: the dashboard's queries (summary, errors, series, releases, insights, items)
   and the demo and dashboard pages fetched, then settled again;
4. ``idle``: ``--idle-s`` more seconds with nothing sent (45: past the default
   ``memory_pageout_idle_s``, so a server that pages out when idle has done it).

At each stage: VmRSS and its parts from ``/proc/PID/status`` (RssAnon, RssFile, RssShmem: VmRSS
is their sum, the figure the targets use), Pss (``smaps_rollup``: a page shared with n other
processes counts 1/n, so Pss_File is the library pages this server alone holds), the thread
count, and the file-backed mappings with the most resident pages from ``/proc/PID/smaps``.
``--price S`` then measures what the idle page-out costs: two servers of the first target,
one with ``WASMWATCH_MEMORY_PAGEOUT_IDLE_S=S`` and one with 0, each idle ``S + 12`` s and
then given one ingest and the dashboard's queries (wall time, the server's CPU, its major
faults), and the same work again at once (warm), ``--rounds`` times. ``--floor`` also measures a process that only imports numpy,
pyarrow, pyarrow.compute and duckdb and opens a DuckDB file (the least a server on this stack
can hold). Writes ``bench/out/memory.json``.

Run: ``flock /tmp/wasmwatch-bench.lock .venv/bin/python bench/memory.py
[--target main=/work/x/.venv/bin/python ...] [--floor] [--price 5]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "ingest"))
from run import MIX, make_body, make_item  # noqa: E402

OUT = HERE / "out"
KEY = "pk_bench"
TOKEN = "adm_bench"
QUERIES = ("/api/v1/summary", "/api/v1/errors", "/api/v1/series?metric=operation",
           "/api/v1/releases", "/api/v1/insights", "/api/v1/items?limit=50",
           "/dashboard/", "/demo/")


def status_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM", "Threads"):
            fields[name] = int(rest.split()[0])
    return fields


def mappings_kb(pid: int, top: int = 8) -> dict[str, int]:
    """Resident kB per mapped file (all its mappings), the largest ``top``."""
    by_file: Counter[str] = Counter()
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if not head:
            continue
        if "-" in head[0] and not head[0].endswith(":"):
            name = Path(head[5]).name if len(head) > 5 and head[5].startswith("/") else ""
        elif head[0] == "Rss:" and name:
            by_file[name] += int(head[1])
    return dict(by_file.most_common(top))


def rollup_kb(pid: int) -> dict[str, int]:
    """Pss and its parts (``/proc/PID/smaps_rollup``): a page mapped by n processes counts 1/n."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        if name in ("Pss", "Pss_Anon", "Pss_File"):
            fields[name] = int(rest.split()[0])
    return fields


def snapshot(pid: int, stage: str, started: float) -> dict[str, Any]:
    kb, pss = status_kb(pid), rollup_kb(pid)
    return {"stage": stage, "at_s": round(time.monotonic() - started, 1),
            "rss_mb": round(kb["VmRSS"] / 1024, 1), "anon_mb": round(kb["RssAnon"] / 1024, 1),
            "file_mb": round(kb["RssFile"] / 1024, 1), "shmem_mb": round(kb["RssShmem"] / 1024, 1),
            "pss_mb": round(pss["Pss"] / 1024, 1), "pss_file_mb": round(pss["Pss_File"] / 1024, 1),
            "threads": kb["Threads"], "top_files_mb": {k: round(v / 1024, 1)
                                                        for k, v in mappings_kb(pid).items()}}


def settle(pid: int, limit_s: float) -> None:
    """Until VmRSS moved by at most 1 MB over 2 s, or ``limit_s``."""
    deadline = time.monotonic() + limit_s
    last = status_kb(pid)["VmRSS"]
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = status_kb(pid)["VmRSS"]
        if abs(now - last) > 1024:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= 2:
            return


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body20() -> bytes:
    rng = random.Random(20)
    kinds, weights = list(MIX), list(MIX.values())
    now = int(time.time() * 1000)
    text = make_body([(k, make_item(k, rng)) for k in rng.choices(kinds, weights, k=20)], rng)
    return (text.replace("\x01", os.urandom(8).hex()).replace("\x02", str(now // 10000))
            .replace("\x03", str(now)).encode())


@contextlib.contextmanager
def serving(python: str, port: int = 0, env: dict[str, str] | None = None
            ) -> Iterator[tuple[subprocess.Popen[bytes], httpx.Client, float]]:
    """A ``wasmwatch serve`` on an empty data dir, answering ``/healthz``."""
    port = port or free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "WASMWATCH_INGEST_KEY": KEY, "WASMWATCH_ADMIN_TOKEN": TOKEN,
               **(env or {})}
        started = time.monotonic()
        proc = subprocess.Popen([python, "-m", "wasmwatch", "serve", "--port", str(port),
                                 "--data-dir", f"{tmp}/data"], env=env, cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                while True:
                    try:
                        if http.get("/healthz").status_code == 200:  # 2e0b87d has no /readyz
                            break
                    except httpx.HTTPError:
                        pass
                    if proc.poll() is not None or time.monotonic() - started > 60:
                        raise RuntimeError(f"{python}: server did not start")
                    time.sleep(0.1)
                yield proc, http, started
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


def ingest(http: httpx.Client) -> int:
    return http.post(f"/api/v1/ingest?key={KEY}", content=body20(),
                     headers={"content-type": "application/json"}).status_code


def dashboard(http: httpx.Client) -> dict[str, int]:
    return {path: http.get(path, headers={"authorization": f"Bearer {TOKEN}"}).status_code
            for path in QUERIES}


def measure(python: str, settle_s: float, idle_s: float, port: int = 0) -> dict[str, Any]:
    with serving(python, port) as (proc, http, started):
        ready_s = round(time.monotonic() - started, 1)
        stages = []
        settle(proc.pid, settle_s)
        stages.append(snapshot(proc.pid, "start", started))
        status = ingest(http)
        settle(proc.pid, settle_s)
        stages.append({**snapshot(proc.pid, "ingest", started), "status": status})
        codes = dashboard(http)
        settle(proc.pid, settle_s)
        stages.append({**snapshot(proc.pid, "queries", started), "status": codes})
        time.sleep(idle_s)
        stages.append(snapshot(proc.pid, "idle", started))
    return {"python": python, "ready_s": ready_s, "stages": stages}


def cpu_and_faults(pid: int) -> tuple[float, int]:
    """The process's CPU seconds (user + system, every thread) and its major faults."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), int(fields[9])


def work(pid: int, http: httpx.Client) -> dict[str, Any]:
    """One ingest and the dashboard's queries: wall ms, server CPU ms, major faults."""
    cpu, faults = cpu_and_faults(pid)
    began = time.perf_counter()
    status = ingest(http)
    first_ms = (time.perf_counter() - began) * 1000
    codes = dashboard(http)
    wall_ms = (time.perf_counter() - began) * 1000
    cpu_after, faults_after = cpu_and_faults(pid)
    return {"first_request_ms": round(first_ms, 1), "wall_ms": round(wall_ms, 1),
            "cpu_ms": round((cpu_after - cpu) * 1000), "major_faults": faults_after - faults,
            "ok": status == 200 and all(c == 200 for c in codes.values())}


def price(python: str, pageout_s: float, rounds: int, port: int = 0) -> dict[str, Any]:
    """What the idle page-out costs the work after it: a server that pages out after
    ``pageout_s`` of idle and one that never does, each idle for the same spell before an
    ingest and the dashboard's queries (and the same work again at once, warm)."""
    idle_s = pageout_s + 12  # the trim task looks every 5 s: past the page-out
    result: dict[str, Any] = {"pageout_idle_s": pageout_s, "idle_s": idle_s}
    for mode, value in (("pageout", pageout_s), ("never", 0)):
        env = {"WASMWATCH_MEMORY_PAGEOUT_IDLE_S": str(value)}
        with serving(python, port, env) as (proc, http, started):
            work(proc.pid, http)
            rows = []
            for _ in range(rounds):
                time.sleep(idle_s)
                before = snapshot(proc.pid, "idle", started)
                after_idle = work(proc.pid, http)
                warm = work(proc.pid, http)
                rows.append({"idle": before, "after_idle": after_idle, "warm": warm,
                             "after": snapshot(proc.pid, "after", started)})
        result[mode] = rows
        for row in rows:
            i, w, h = row["idle"], row["after_idle"], row["warm"]
            print(f"price {mode:8} idle rss {i['rss_mb']:6.1f} (file {i['file_mb']:5.1f})"
                  f" | after idle: first {w['first_request_ms']:6.1f} ms, all {w['wall_ms']:6.1f}"
                  f" ms, cpu {w['cpu_ms']:4d} ms, {w['major_faults']:5d} major faults"
                  f" | warm: {h['first_request_ms']:5.1f} / {h['wall_ms']:6.1f} ms, cpu"
                  f" {h['cpu_ms']:4d} | rss after {row['after']['rss_mb']:6.1f}"
                  f" (file {row['after']['file_mb']:5.1f})", flush=True)
    return result


FLOOR = """
import sys, tempfile, pathlib
import numpy, pyarrow, pyarrow.compute, duckdb
d = tempfile.mkdtemp()
con = duckdb.connect(d + "/f.duckdb")
con.execute("CREATE TABLE t (a INTEGER)")
con.execute("INSERT INTO t VALUES (1)")
con.execute("SELECT * FROM t").fetchall()
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()
"""


def floor(python: str) -> dict[str, Any]:
    proc = subprocess.Popen([python, "-c", FLOOR], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    started = time.monotonic()
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.readline()
    time.sleep(1)
    shot = snapshot(proc.pid, "imports + a DuckDB file", started)
    proc.stdin.write("\n")
    proc.stdin.close()
    proc.wait(30)
    return shot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", action="append", default=[],
                        help="name=python (default: this=the running interpreter)")
    parser.add_argument("--settle-s", type=float, default=15.0)
    parser.add_argument("--idle-s", type=float, default=45.0,
                        help="seconds idle after the queries (past memory_pageout_idle_s, 30)")
    parser.add_argument("--price", type=float, default=0, metavar="S",
                        help="also measure what the idle page-out costs the next work, with"
                             " memory_pageout_idle_s=S against 0, on the first target")
    parser.add_argument("--rounds", type=int, default=3, help="idle spells per --price server")
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--port", type=int, default=0, help="the servers' port (default: any free one)")
    args = parser.parse_args(argv)
    targets = {name: os.path.abspath(python) for name, python in
               (t.split("=", 1) for t in args.target)} or {"this": sys.executable}
    report: dict[str, Any] = {"load_average_before": os.getloadavg(), "cpus": os.cpu_count()}
    for name, python in targets.items():
        report[name] = measure(python, args.settle_s, args.idle_s, args.port)
        for stage in report[name]["stages"]:
            print(f"{name:8} {stage['stage']:8} at {stage['at_s']:5.1f}s rss {stage['rss_mb']:6.1f}"
                  f" = anon {stage['anon_mb']:6.1f} + file {stage['file_mb']:6.1f}"
                  f" + shmem {stage['shmem_mb']:4.1f} MB, pss {stage['pss_mb']:6.1f}"
                  f" (file {stage['pss_file_mb']:5.1f}), {stage['threads']} threads", flush=True)
    if args.price:
        report["price"] = price(next(iter(targets.values())), args.price, args.rounds, args.port)
    if args.floor:
        report["floor"] = floor(sys.executable)
        f = report["floor"]
        print(f"floor    rss {f['rss_mb']} = anon {f['anon_mb']} + file {f['file_mb']} MB")
    report["load_average_after"] = os.getloadavg()
    print("load average", report["load_average_before"], "->", report["load_average_after"])
    OUT.mkdir(exist_ok=True)
    (OUT / "memory.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

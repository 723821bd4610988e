"""Query benchmark (issue 8, point 5): the HTTP query API over 10 M items spread over 30 days.

Builds (once, cached under ``bench/out/query/``, an ignored directory) two data dirs of
``--items`` items (default 10 M) over 30 days with 35 % in the last 24 h, written through the
store's own columnar append path for history (``layout.load_wide`` from an Arrow/DuckDB
relation, then ``rollup.apply`` per chunk, as the store's flush does), in two orders:

* ``ordered``: chunks in time order, the way live traffic lands;
* ``shuffled``: every chunk spread over the whole 30 days (an offline replay, a history load),
  so no row group is narrower in time than the whole data set.

For each it first times a raw DuckDB scan of the 24 h rows in this process (the baseline for
``exact=true``: one grouped aggregate with ``quantile_cont`` over the same rows), then starts a
real ``wasmwatch serve`` on the data dir (retention off, so nothing is deleted) and times, through HTTP on loopback, ``/api/v1/summary`` for 5m, 1h, 24h, 7d, 30d, the 24 h summary
with ``exact=true``, ``/api/v1/errors`` and ``/api/v1/series`` for 24 h (median of ``--runs``
after one warm-up, whose time is reported apart as ``first_ms``: the server's span cache is
cold then). Windows are given as ``from``/``to`` ranges ending at the data set's fixed
"now" (hh:01:17, the worst case for bucket edges), so a cached data set stays valid. Reports
the server's RSS after the queries (and its peak), then stops it.

With ``--base DIR`` a second server runs the code of another checkout (main before this work)
on a copy of the data dir; the two take turns request by request, so the ratios new / base in
the figures are measured under the same load.

Run: ``.venv/bin/python bench/query_bench.py [--items N] [--runs R] [--order ordered|shuffled]
[--base DIR]``
(``make bench`` runs it through ``bench/run_all.py``). Writes ``bench/out/query.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
from summary_bench import batch_sql, machine

from wasmwatch.query import rollup
from wasmwatch.store import layout

HERE = Path(__file__).resolve().parent
CACHE = HERE / "out" / "query"
OUT = HERE / "out" / "query.json"
DAY_MS = 86_400_000
NOW_MS = 1_764_000_000_000 + 61 * 60_000 + 17_000  # hh:01:17: windows cut buckets at both ends
START_MS = NOW_MS - 30 * DAY_MS
LAST_DAY_SHARE = 0.35
TOKEN = "adm_query_bench_token"
WINDOWS = {"5m": 300, "1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}
PRIME = 1_000_003  # steps through the items in a scattered order (coprime with --items)


def _ts_sql(total: int, shuffled: bool, item: str = "i") -> str:
    """``ts`` of item ``i``: 65 % spread over days 1-29, 35 % over the last 24 h."""
    pos = f"(({item} * {PRIME}) % {total})" if shuffled else f"({item})"
    share, old = LAST_DAY_SHARE, 29 * DAY_MS
    cut = int(total * (1 - share))
    return (f"CASE WHEN {pos} < {cut} THEN {START_MS} + ({pos} * {old}) // {cut} "
            f"ELSE {NOW_MS - DAY_MS} + (({pos} - {cut}) * {DAY_MS}) // {total - cut} END")


def items_sql(lo: int, hi: int, total: int, shuffled: bool) -> str:
    """Items ``lo..hi-1`` of the 30-day set (the columns and mix of ``summary_bench``)."""
    sql = batch_sql(lo, hi, total)
    even = f"{NOW_MS - DAY_MS} + (i * {DAY_MS}) // {total} AS ts"
    assert even in sql, "summary_bench.batch_sql changed its ts expression"
    sql = sql.replace(even, f"{_ts_sql(total, shuffled)} AS ts")
    # an SDK batch: 20 consecutive items of one session, received together (a replay: at
    # "now", whatever their ts; live: 40 ms after the first of them)
    received = (f"{NOW_MS} + i // 20" if shuffled
                else f"{_ts_sql(total, False, '(i // 20) * 20')} + 40")
    assert "ts - ts % 1000 + 40" in sql
    sql = sql.replace("ts - ts % 1000 + 40", received)
    return sql


def build(path: Path, total: int, shuffled: bool, chunk: int) -> dict[str, Any]:
    """Write the data set into ``path`` (a data dir's DuckDB file); seconds taken."""
    started = time.perf_counter()
    con = duckdb.connect(str(path))
    for ddl in [*layout.tables(), layout.view(), *rollup.ROLLUP_DDL]:
        con.execute(ddl)
    for lo in range(0, total, chunk):
        hi = min(total, lo + chunk)
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE OR REPLACE TEMP TABLE batch AS {items_sql(lo, hi, total, shuffled)}")
        layout.load_wide(con, "batch")
        rollup.apply(con, "batch")
        con.execute("COMMIT")
        print(f"  wrote {hi:>10,} items", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    rollup.compact(con, NOW_MS + 10 * 60_000)
    con.execute("DROP TABLE IF EXISTS batch")
    con.execute("CHECKPOINT")
    con.close()
    return {"build_s": round(time.perf_counter() - started, 1)}


def _median_ms(call: Any, runs: int) -> dict[str, Any]:
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "runs_ms": [round(t, 1) for t in times]}


RAW_SCAN = """
SELECT type, release, name, count(*), sum(ms), max(ms), sum(transfer_bytes), max(value),
  quantile_cont(ms, [0.5, 0.95, 0.99])
FROM items WHERE project = 'default' AND ts >= ? AND ts <= ? GROUP BY ALL"""


def raw_scan(path: Path, runs: int, threads: int) -> dict[str, Any]:
    """The raw DuckDB baseline: one grouped scan of the last 24 h's rows."""
    con = duckdb.connect(str(path), read_only=True)
    con.execute(f"SET threads = {threads}")
    params = [NOW_MS - DAY_MS, NOW_MS]
    (n,) = con.execute("SELECT count(*) FROM items WHERE ts >= ? AND ts <= ?", params).fetchone()
    figure = _median_ms(lambda: con.execute(RAW_SCAN, params).fetchall(), runs)
    con.close()
    return {**figure, "rows": int(n)}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields["VmRSS"], "peak_rss_mb": fields["VmHWM"]}


def _server_env(base: Path | None) -> dict[str, str]:
    env = {**os.environ, "WASMWATCH_ADMIN_TOKEN": TOKEN, "WASMWATCH_RETENTION_DAYS": "36500",
           "WASMWATCH_LOG_LEVELS": json.dumps({"wasmwatch.query.warm": "INFO"})}
    if base is not None:
        env["PYTHONPATH"] = str(base)
    return env


def code_of(base: Path | None) -> str:
    """Where the server's ``wasmwatch`` package is imported from: the same interpreter, working
    directory and environment as :func:`serve`, so a base server that would run this
    checkout's code (the bug of an earlier session) shows here."""
    out = subprocess.run([sys.executable, "-c", "import wasmwatch; print(wasmwatch.__file__)"],
                         env=_server_env(base), cwd=str(base) if base is not None else None,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def serve(data_dir: Path, base: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """A real ``wasmwatch serve`` on the data dir, retention off; waits until it answers.

    With ``base`` (a checkout of another commit) that code is run, by the same interpreter."""
    port = _port()
    # run from the checkout's directory: ``-m`` puts the working directory first on sys.path,
    # ahead of PYTHONPATH, so from this checkout the base server would run this code
    proc = subprocess.Popen([sys.executable, "-m", "wasmwatch", "serve", "--port", str(port),
                             "--data-dir", str(data_dir)], env=_server_env(base),
                            cwd=str(base) if base is not None else None,
                            stdout=subprocess.DEVNULL,
                            stderr=(data_dir / "server.log").open("wb"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not become ready")


def wait_warmed(log: Path, timeout_s: float = 120) -> str | None:
    """The server's "span cache warmed" line once it is in its log (None after the timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if "span cache warmed" in line:
                return line.strip()
        time.sleep(0.1)
    return None


def _range(window_s: int) -> dict[str, str]:
    return {"from": str(NOW_MS - window_s * 1000), "to": str(NOW_MS)}


def _calls() -> dict[str, tuple[str, dict[str, str]]]:
    return {
        **{f"summary_{w}": ("/api/v1/summary", _range(s)) for w, s in WINDOWS.items()},
        "summary_24h_exact": ("/api/v1/summary", {**_range(86_400), "exact": "true"}),
        "errors_24h": ("/api/v1/errors", _range(86_400)),
        "series_24h": ("/api/v1/series", {**_range(86_400), "metric": "operation"}),
    }


def http_queries(urls: dict[str, str], runs: int) -> dict[str, dict[str, Any]]:
    """Every query of the target through HTTP, per server; the servers take turns, request by
    request, so a change in the machine's other load hits them alike."""
    clients = {name: httpx.Client(base_url=url, timeout=120,
                                  headers={"authorization": f"Bearer {TOKEN}"})
               for name, url in urls.items()}
    out: dict[str, dict[str, Any]] = {name: {} for name in urls}
    for query, (path, params) in _calls().items():
        times: dict[str, list[float]] = {name: [] for name in urls}
        for attempt in range(runs + 1):  # the first round warms up
            for name, client in clients.items():
                started = time.perf_counter()
                response = client.get(path, params=params)
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                if attempt:
                    times[name].append(elapsed)
                else:  # the first answer (a server's caches are cold) is kept apart
                    body = response.json()
                    out[name][query] = {"first_ms": round(elapsed, 1),
                                        "source": body.get("source"),
                                        "items": sum(body["events"].values())
                                        if "events" in body else None}
        for name in urls:
            out[name][query].update(median_ms=round(statistics.median(times[name]), 1),
                                    runs_ms=[round(t, 1) for t in times[name]])
        print(f"  {query:20} " + "  ".join(
            f"{n} {out[n][query]['median_ms']:8.1f} ms (first {out[n][query]['first_ms']:6.1f})"
            for n in urls), file=sys.stderr)
    for client in clients.values():
        client.close()
    return out


def run_order(order: str, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = CACHE / f"{order}-{args.items}"
    db = data_dir / "wasmwatch.duckdb"
    info: dict[str, Any] = {"data_dir": str(data_dir)}
    if not db.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        info.update(build(db, args.items, order == "shuffled", args.chunk))
    info["file_mb"] = round(db.stat().st_size / 2**20)
    if args.build_only:
        return info
    info["raw_scan_24h"] = raw_scan(db, args.runs, args.threads)
    dirs: dict[str, tuple[Path, Path | None]] = {"new": (data_dir, None)}
    if args.base is not None:  # the base server gets its own copy (a DuckDB file has one owner)
        copy = CACHE / f"{order}-{args.items}-base"
        shutil.rmtree(copy, ignore_errors=True)
        if args.base_data is not None:  # the same rows as the base's own code laid them out
            copy.mkdir(parents=True)
            shutil.copyfile(str(args.base_data).format(order=order), copy / "wasmwatch.duckdb")
        else:
            shutil.copytree(data_dir, copy)
        dirs["base"] = (copy, args.base)
    info["code"] = {name: code_of(base) for name, (_, base) in dirs.items()}
    procs = {name: serve(d, base) for name, (d, base) in dirs.items()}
    if args.warm:  # the new server's span cache warmed (its log says so) before the queries
        info["warmed"] = wait_warmed(data_dir / "server.log")
    try:
        figures = http_queries({name: url for name, (_, url) in procs.items()}, args.runs)
        rss = {name: _rss_mb(proc.pid) for name, (proc, _) in procs.items()}
    finally:
        for proc, _ in procs.values():
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    info["http"], info["server_after"] = figures["new"], rss["new"]
    info["exact_vs_raw_scan"] = round(info["http"]["summary_24h_exact"]["median_ms"]
                                      / info["raw_scan_24h"]["median_ms"], 2)
    if "base" in figures:
        info["base_http"], info["base_server_after"] = figures["base"], rss["base"]
        info["new_vs_base"] = {k: round(v["median_ms"] / figures["base"][k]["median_ms"], 3)
                               for k, v in info["http"].items()}
    info["slowest_ms"] = max(v["median_ms"] for v in info["http"].values())
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000_000)
    parser.add_argument("--chunk", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="DuckDB threads of the raw-scan baseline (the server uses its own)")
    parser.add_argument("--order", choices=("ordered", "shuffled", "both"), default="both")
    parser.add_argument("--build-only", action="store_true",
                        help="build the data sets that are not cached yet, and stop")
    parser.add_argument("--warm", action="store_true",
                        help="wait for the new server's span cache to be warmed (its log line) "
                        "before the first queries")
    parser.add_argument("--quick", action="store_true", help="1 M items, 3 runs")
    parser.add_argument("--base", type=Path, default=None,
                        help="a checkout of the commit to compare with (e.g. `git archive main "
                        "wasmwatch | tar -x -C DIR`): its server answers the same queries")
    parser.add_argument("--base-data", default=None,
                        help="the base server's DuckDB file ({order} is replaced by ordered or "
                        "shuffled), e.g. the data set before this checkout upgraded it at open; "
                        "default a copy of the new server's")
    args = parser.parse_args()
    if args.quick:
        args.items, args.runs = 1_000_000, 3
    info = machine()
    print(f"machine: {info['nproc']} CPUs, load average {info['loadavg_1m_at_start']}")
    orders = ("ordered", "shuffled") if args.order == "both" else (args.order,)
    result: dict[str, Any] = {"machine": info, "items": args.items, "now_ms": NOW_MS,
                              "target_ms": 100, "memory_bound_mb": 400}
    for order in orders:
        print(f"== {order}", file=sys.stderr)
        result[order] = run_order(order, args)
        print(json.dumps({k: v for k, v in result[order].items() if k != "http"}), file=sys.stderr)
    info["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

"""Run every benchmark under bench/ in turn; each prints its figures and writes bench/out/*.json.

Usage: .venv/bin/python bench/run_all.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHES = [
    ["ingest/run.py"],
    ["summary_bench.py"],
    ["query_bench.py"],
    ["metrics_observe.py"],
    ["limits_bench.py"],
    ["scrub_bench.py"],
    ["sdk/run.py"],
    ["slow_clients.py"],
    ["overload.py"],
    ["alert_latency.py"],
    ["alert_eval.py"],
    ["client_overhead.py"],
]


def main() -> int:
    extra = sys.argv[1:]
    failed = 0
    for bench in BENCHES:
        script = HERE / bench[0]
        if not script.exists():
            print(f"-- skipping {bench[0]} (not present)")
            continue
        print(f"== {bench[0]}", flush=True)
        failed += subprocess.call([sys.executable, str(script), *bench[1:], *extra]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""A `wasmwatch serve` process for the hardening benchmarks, with RSS sampling."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

KEY = "pk_bench"
TOKEN = "adm_bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    def __init__(self, data_dir: Path, **settings: object) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "WASMWATCH_INGEST_KEY": KEY, "WASMWATCH_ADMIN_TOKEN": TOKEN,
               **{f"WASMWATCH_{k.upper()}": str(v) for k, v in settings.items()}}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wasmwatch", "serve", "--port", str(self.port),
             "--data-dir", str(data_dir)], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        self.peak_rss = 0.0
        self._sampling = threading.Event()
        self._sampler: threading.Thread | None = None

    def rss(self) -> float:
        return rss_mb(self.proc.pid)

    def sample_peak(self) -> None:
        """Sample RSS every 0.1 s until stop_sampling()."""
        self.peak_rss = self.rss()
        self._sampling.clear()

        def run() -> None:
            while not self._sampling.wait(0.1):
                self.peak_rss = max(self.peak_rss, self.rss())

        self._sampler = threading.Thread(target=run, daemon=True)
        self._sampler.start()

    def stop_sampling(self) -> float:
        self._sampling.set()
        if self._sampler:
            self._sampler.join()
        return self.peak_rss

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        out = self.proc.stdout.read() if self.proc.stdout else ""
        return code, out

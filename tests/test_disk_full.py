"""A real full disk (a 16 MB tmpfs): /readyz says so while /healthz stays ok, and the stop
says what it could not do; acknowledged items survive. Needs root to mount; skipped otherwise."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, envelope, item

pytestmark = pytest.mark.server


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def plain_id() -> str:
    """A unique id the PII scrubber leaves as it is (no long digit runs), so stored = sent."""
    return "full-" + uuid.uuid4().hex[:24].translate(_LETTERS)


def fill(mnt: Path, leave: int) -> Path:
    stat = os.statvfs(mnt)
    filler = mnt / "filler"
    filler.write_bytes(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))
    return filler


def test_full_disk_is_not_ready_and_the_stop_says_so(small_disk: Path) -> None:
    """Writes fail on a full disk: 503, /readyz 503 naming the commit, /healthz 200, exit 1."""
    server = LiveServer(small_disk / "data", env={"WASMWATCH_READY_MIN_FREE_BYTES": "4096"}).start()
    acked: list[str] = []
    filler = fill(small_disk, 2_000_000)
    with httpx.Client(timeout=30) as client:
        assert client.get(server.url + "/readyz").status_code == 200
        for _ in range(100):
            now = int(time.time() * 1000)
            batch = [item("error", ts=now, id=plain_id(), message="x" * 200) for _ in range(500)]
            r = client.post(server.url + "/api/v1/ingest", params={"key": server.key},
                            json=envelope(batch, sent_at=now))
            if r.status_code != 200:
                break
            acked += [str(i["id"]) for i in batch]
        assert r.status_code == 503 and r.headers["retry-after"]
        ready = client.get(server.url + "/readyz")
        assert ready.status_code == 503
        assert "No space left on device" in ready.json()["failing"]["commit"]
        assert client.get(server.url + "/healthz").status_code == 200
    assert server.stop() == 1
    assert "every accepted item is committed" not in server.output
    assert "stopped, but not cleanly" in server.output
    filler.unlink()
    server.output = ""
    server.start()
    assert server.stop() == 0
    stored = {r["id"] for r in server.items()}
    assert acked and set(acked) <= stored

"""A real `wasmwatch serve` gets every kind of PII through every field of every item type and
of the seed endpoints; afterwards not one secret is in any byte of its data dir, its scratch
files in /dev/shm or its /metrics text."""

from __future__ import annotations

import contextlib
import itertools
import signal
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.server

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEpiiPEMsecretBODYxq\n-----END PRIVATE KEY-----"
#: kind -> (text sent, needles that must appear nowhere afterwards)
PII: dict[str, tuple[str, tuple[str, ...]]] = {
    "email": ("for pii.leak@example.org now", ("pii.leak@example",)),
    "bearer": ("Bearer Tk9zQ8xW7vU6tS5r", ("Tk9zQ8xW7vU6tS5r",)),
    "api_key": ("api_key=AKIAPII1234567890", ("AKIAPII1234567890",)),
    "token": ("?token=tokpii_5d4c3b2a1", ("tokpii_5d4c3b2a1",)),
    "jwt": ("eyJhbGciOiJIUzI1NiJ9.eyJwaWkiOiJsZWFrIn0.c2lnbmF0dXJlcGlp", ("eyJwaWkiOiJsZWFrIn0",)),
    "hex": ("k 9f8a7b6c5d4e3f2a1b0c9f8a7b6c5d4e3f2a1b0c", ("9f8a7b6c5d4e3f2a1b0c9f8a",)),
    "userinfo": ("https://piiuser:hunter2pii@example.com/x", ("hunter2pii", "piiuser")),
    "path": ("https://example.com/reset/7e6d5c4b3a2f1e0d9c8b", ("7e6d5c4b3a2f1e0d9c8b",)),
    "password": ("password=pwpii9x", ("pwpii9x",)),
    "card": ("pay 4111 1111 1111 1111", ("4111 1111 1111 1111",)),
    "card_dash": ("pay 4111-1111-1111-1111", ("4111-1111-1111-1111",)),
    "card_plain": ("pay 5500000000000004", ("5500000000000004",)),
    "ipv4": ("from 203.0.113.77", ("203.0.113.77",)),
    "ipv6": ("from 2001:db8:85a3::8a2e:370:7334", ("2001:db8:85a3",)),
    "pem": (PEM, ("MIIEpiiPEMsecretBODYxq",)),
}
#: ids that hold a secret (the id charset allows no spaces, @ or =)
PII_IDS = {"203.0.113.78": "203.0.113.78", "card-id": "5500000000000004",
           "hex-id": "8e7d6c5b4a3f2e1d0c9b8e7d6c5b4a3f2e1d0c9b"}
CANARY = "canary_plain_name_zq"
_n = itertools.count()


def uid() -> str:
    return f"pii{next(_n)}x{uuid.uuid4().hex[:8]}"


def items_with(text: str, now: int) -> list[dict[str, Any]]:
    """One item per client string field of every item type, each carrying ``text``."""
    base = {"ts": now}
    return [
        {**base, "id": uid(), "type": "bundle_load", "total_ms": 10.0, "url": text},
        {**base, "id": uid(), "type": "operation", "name": text, "ms": 5.0},
        {**base, "id": uid(), "type": "error", "kind": text, "message": text, "stack": text,
         "operation": text},
        {**base, "id": uid(), "type": "error", "kind": "E", "message": "m",
         "stack": f"at f (https://h/app.js:1:2)\n at {text} (wasm://wasm/ab:wasm-function[3]:0x5c)"},
        {**base, "id": uid(), "type": "engagement", "visible_ms": 100.0, "page": text},
        {**base, "id": uid(), "type": "feature", "name": text},
        {**base, "id": uid(), "type": "measurement", "name": text, "value": 1.0, "unit": text,
         "tags": {text[:60]: text, "t": text}},
    ]


def context_with(text: str) -> dict[str, Any]:
    return {"session": text, "release": text, "page": text, "connection": text, "device": text,
            "sdk": text, "user_agent": text, "online": True}


def seed_with(text: str, now: int) -> list[dict[str, Any]]:
    data = {"timestamp": now, "duration": 5}
    return [
        {"type": "bundle_load", "data": {**data, "url": text}, "user_agent": text, "bundle_version": text},
        {"type": "operation", "data": {**data, "operation_type": text}, "bundle_version": text},
        {"type": "error", "data": {**data, "kind": text, "message": text, "stack": text, "operation": text}},
        {"type": "feature_used", "data": {**data, "feature": text}},
        {"type": text[:200], "data": data},
    ]


def every_file(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
        elif root.is_dir():
            try:
                yield from [p for p in root.rglob("*") if p.is_file()]
            except FileNotFoundError:
                return


def test_no_pii_reaches_disk_scratch_or_metrics(tmp_path: Path) -> None:
    """After every PII kind went through every field, no byte on disk nor /metrics holds one."""
    before = set(Path("/dev/shm").glob("wasmwatch-*"))
    server = LiveServer(tmp_path / "data").start()
    scratch = set(Path("/dev/shm").glob("wasmwatch-*")) - before
    try:
        with httpx.Client(base_url=server.url, timeout=30, params={"key": server.key}) as http:
            now = int(time.time() * 1000)
            sent = 0
            for text, _ in PII.values():
                batch = items_with(text, now)
                answer = http.post("/api/v1/ingest", json={"sent_at": now, "context": context_with(text),
                                                           "items": batch})
                assert answer.status_code == 200, answer.text
                assert answer.json()["accepted"] == len(batch), answer.text
                sent += len(batch)
                assert http.post("/api/telemetry/wasm", json=seed_with(text, now)[0]).status_code == 200
                bulk = http.post("/api/telemetry/wasm/bulk", json={"metrics": seed_with(text, now)})
                assert bulk.json() == {"success": 5, "errors": 0}, bulk.text
            ids = [{"id": i, "type": "feature", "ts": now, "name": CANARY} for i in PII_IDS.values()]
            answer = http.post("/api/v1/ingest", json={"context": {"session": "s"}, "items": ids})
            assert answer.json()["accepted"] == len(ids), answer.text
            metrics = http.get("/metrics").text
        # kill -9: the WAL and the scratch batch file stay behind as they are
        server.stop(signal.SIGKILL)
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()

    needles = [n for _, ns in PII.values() for n in ns] + list(PII_IDS.values())
    for needle in needles:
        assert needle not in metrics, f"{needle!r} on /metrics"
    for kind in ("email", "token", "password", "secret", "card", "ip", "pem"):
        assert f'wasmwatch_scrubbed_values_total{{kind="{kind}"}} 0.0' not in metrics, kind
    # other servers on this machine make and remove their own scratch dirs meanwhile: ours is
    # the one kill -9 left behind holding the last batch (the canary ids)
    ours = [d for d in scratch if CANARY.encode() in read_all(every_file(d))]
    if scratch:
        assert ours, "the server's scratch batch file must be found and searched"
    files = list(every_file(server.data_dir, *ours))
    blob = read_all(files)
    assert CANARY.encode() in blob, "the search must see what was stored"
    assert b"[email]" in blob and b"[card]" in blob
    for needle in needles:
        assert needle.encode() not in blob, f"{needle!r} found on disk in {[str(p) for p in files]}"
    for path in ours:  # what kill -9 left behind
        for p in every_file(path):
            p.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.rmdir()


def read_all(files: Iterable[Path]) -> bytes:
    """Every byte of ``files``, skipping any removed meanwhile."""
    out = []
    for path in files:
        try:
            out.append(path.read_bytes())
        except FileNotFoundError:
            continue
    return b"".join(out)

"""The write-ahead journal of the DuckDB store: durable on append, applied exactly once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

from tests.store.test_writer import NOW, rows, write
from wasmwatch.store.duckdb import DuckDBStore
from wasmwatch.store.journal import read_records

ROOT = Path(__file__).resolve().parents[2]
# apply only when asked: every write stays in the journal until a read, a flush or a close
HOLD = {"apply_interval_s": 3600.0, "apply_rows": 1 << 30, "apply_bytes": 1 << 40}

_CRASH = """
import os, sys
from pathlib import Path
from tests.store.test_writer import rows, write
from wasmwatch.store.duckdb import DuckDBStore
store = DuckDBStore(Path(sys.argv[1]), apply_interval_s=3600.0, apply_rows=1 << 30,
                    apply_bytes=1 << 40)
write(store, rows("k1", "k2"))
store.apply()                      # k1, k2 in DuckDB
write(store, rows("k3", "k4"), rows("k2"))  # k3, k4 only journaled; k2 a duplicate
print(store.journal.pending_rows, flush=True)
os.kill(os.getpid(), 9)            # between the journal append and its apply
"""


def ids(store: DuckDBStore) -> list[str]:
    return [r["id"] for r in store.query("SELECT id FROM items ORDER BY id")]


def test_kill_9_between_append_and_apply_loses_nothing(tmp_path: Path) -> None:
    """A process killed with SIGKILL after journaling, before applying: the next open applies
    the journal, every acknowledged item once, and removes the applied files."""
    done = subprocess.run([sys.executable, "-c", _CRASH, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    assert done.stdout.strip() == "2"  # two items were only in the journal when it died
    assert list((tmp_path / "journal").glob("*.wwj"))
    store = DuckDBStore(tmp_path, **HOLD)
    assert ids(store) == ["k1", "k2", "k3", "k4"]
    assert not list((tmp_path / "journal").glob("*.wwj"))
    assert write(store, rows("k3", "k5")) == {"k3"}  # the replayed ids are known as stored
    store.close()


def test_restart_applies_a_record_exactly_once(tmp_path: Path) -> None:
    """A journal file whose records were applied but not deleted (a crash between the commit
    and the unlink) is skipped by sequence number, however often the store reopens."""
    store = DuckDBStore(tmp_path, **HOLD)
    write(store, rows("a", "b"))
    write(store, rows("c"))
    saved = tmp_path / "saved"
    shutil.copytree(tmp_path / "journal", saved)
    store.apply()
    store._con.close()  # a crash after the apply committed
    for path in saved.glob("*.wwj"):  # as if the applied files had not been deleted
        shutil.copy(path, tmp_path / "journal" / path.name)
    expected = ["a", "b", "c"]
    for n in ("n0", "n1"):
        again = DuckDBStore(tmp_path, **HOLD)
        assert ids(again) == expected
        write(again, rows(n))
        again._con.close()  # each time a crash with one record journaled, not applied
        expected.append(n)
    last = DuckDBStore(tmp_path, **HOLD)
    assert ids(last) == ["a", "b", "c", "n0", "n1"]
    last.close()


def test_a_torn_last_record_is_ignored(tmp_path: Path) -> None:
    """A record cut short (the process died inside its write, so it was never acknowledged)
    ends the file: the records before it are applied."""
    store = DuckDBStore(tmp_path, **HOLD)
    write(store, rows("a"))
    write(store, rows("b"))
    (path,) = (tmp_path / "journal").glob("*.wwj")
    store._con.close()
    data = path.read_bytes()
    whole = list(read_records(path))
    assert [r.seq for r in whole] == [1, 2]
    path.write_bytes(data[: len(data) - 7])  # the second record loses its last bytes
    again = DuckDBStore(tmp_path, **HOLD)
    assert ids(again) == ["a"]
    again.close()


def test_a_query_right_after_the_ack_sees_the_item(tmp_path: Path) -> None:
    """Read-your-writes: what write() acknowledged is visible to the next read, on any
    thread, though it was only journaled."""
    store = DuckDBStore(tmp_path, **HOLD)
    write(store, rows("a"))
    assert store.journal.pending_rows == 1
    seen: list[list[str]] = []
    reader = threading.Thread(target=lambda: seen.append(ids(store)))
    reader.start()
    reader.join()
    assert seen == [["a"]]
    assert store.journal.pending_rows == 0
    write(store, rows("b"))
    assert ids(store) == ["a", "b"]
    store.close()


def test_journaled_ids_count_as_stored(tmp_path: Path) -> None:
    """A replay of an item still in the journal (another ts) is a duplicate, stored once."""
    store = DuckDBStore(tmp_path, **HOLD)
    assert write(store, rows("r1")) == set()
    assert write(store, rows("r1", ts=NOW - 7_200_000)) == {"r1"}
    assert store.query("SELECT count(*) AS n FROM items WHERE id = 'r1'") == [{"n": 1}]
    store.close()


def test_clean_close_applies_and_empties_the_journal(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path, **HOLD)
    write(store, rows("a", "b"))
    assert store.close() == []
    assert not list((tmp_path / "journal").glob("*.wwj"))
    again = DuckDBStore(tmp_path, **HOLD)
    assert ids(again) == ["a", "b"]
    again.close()


_FULL = """
import resource, signal, sys
from pathlib import Path
import pyarrow as pa
from wasmwatch.store.journal import Journal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
journal = Journal(Path(sys.argv[1]), 1)
journal.append({"t": pa.table({"x": [1, 2]})})
size = sum(p.stat().st_size for p in Path(sys.argv[1]).glob("*.wwj"))
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, hard))  # room for part of a record
try:
    journal.append({"t": pa.table({"x": list(range(10_000))})})
except OSError as exc:
    print("refused:", exc.errno)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
journal.append({"t": pa.table({"x": [3]})})
"""


def test_a_failed_append_is_cut_back(tmp_path: Path) -> None:
    """An append the file system refuses part-way (here a file size limit, as a full disk)
    raises, takes no sequence number and leaves no partial record before the next one."""
    done = subprocess.run([sys.executable, "-c", _FULL, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused: 27")  # EFBIG
    records = [r for p in sorted(tmp_path.glob("*.wwj")) for r in read_records(p)]
    assert [r.seq for r in records] == [1, 2]
    assert records[1].tables["t"].column("x").to_pylist() == [3]

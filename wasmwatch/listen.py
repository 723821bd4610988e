"""What ``wasmwatch serve`` takes before anything else starts: its port and its data dir.

:func:`bind` opens the listening socket itself, with ``SO_REUSEADDR`` (a restart need not wait
for ``TIME_WAIT``) but without ``SO_REUSEPORT``: a port some other socket listens on, another
wasmwatch included, is refused here instead of being shared, so the kernel can never split the
traffic between two servers and two stores. The socket is then handed to granian as it is.

:func:`lock_data_dir` creates the data dir, proves it writable, and holds an exclusive
``flock`` on ``wasmwatch.lock`` in it for the life of the process (the kernel drops the lock
when the process ends, even on ``kill -9``), so two servers never share one store.

Every failure is a :class:`~wasmwatch.errors.StartupError` whose message is one line.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from wasmwatch.errors import StartupError

__all__ = ["DataDirLock", "bind", "lock_data_dir"]

LOCK_FILE = "wasmwatch.lock"
_BIND_REASONS = {
    errno.EADDRINUSE: "is already in use (another wasmwatch, or another program, listens there)",
    errno.EACCES: "needs privileges to listen on (ports below 1024 are reserved)",
    errno.EADDRNOTAVAIL: "is on an address this machine does not have",
}


def _address(host: str, port: int) -> tuple[socket.AddressFamily, tuple[object, ...]]:
    if not 1 <= port <= 65535:
        raise StartupError(f"port {port} is out of range (1-65535)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise StartupError(f"cannot resolve host {host!r}: {exc}") from exc
    family, _type, _proto, _name, address = infos[0]
    return family, address


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on ``host:port``, exclusively ours."""
    family, address = _address(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        reason = _BIND_REASONS.get(exc.errno or 0, f"cannot be listened on: {exc.strerror}")
        raise StartupError(f"port {port} on {host} {reason}") from exc
    sock.set_inheritable(False)
    return sock


class DataDirLock:
    """The held lock on a data dir; :meth:`release` (or process exit) lets it go."""

    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path = path
        self._handle = handle

    def release(self) -> None:
        if not self._handle.closed:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()


def lock_data_dir(path: Path) -> DataDirLock:
    """Create ``path`` if needed and lock it for this process alone."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle = open(path / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - held open
    except OSError as exc:
        raise StartupError(f"data dir {path} is not writable: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise StartupError(f"data dir {path} is in use by another wasmwatch (pid {holder})") from exc
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
    except OSError as exc:
        handle.close()
        raise StartupError(f"data dir {path} is not writable: {exc.strerror or exc}") from exc
    return DataDirLock(path, handle)

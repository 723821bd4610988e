"""Opt-in fetching of modules by the URL seen in a stack (setting ``symbols_fetch_projects``).

Only http(s) URLs, only for the projects named in the setting, at most once per URL per
``retry_s``, in a background thread (a read never waits on it: the next read resolves), and no
more than ``max_bytes`` of body.
"""

from __future__ import annotations

import logging
import posixpath
import threading
import urllib.request
from collections.abc import Callable, Collection
from urllib.parse import urlsplit

from wasmwatch.symbols.module import ModuleError, parse
from wasmwatch.symbols.store import SymbolStore, from_module

__all__ = ["Fetcher"]

log = logging.getLogger(__name__)


def _fetchable(url: str) -> bool:
    """An http(s) URL with a host (a scrubbed one, such as ``http://[ip]/``, is not)."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


class Fetcher:
    def __init__(self, store: SymbolStore, projects: Collection[str], *, max_bytes: int,
                 now_ms: Callable[[], int], timeout_s: float = 10.0, retry_s: float = 600.0) -> None:
        self.store = store
        self.projects = frozenset(projects)
        self.max_bytes = max_bytes
        self.now_ms = now_ms
        self.timeout_s = timeout_s
        self.retry_ms = int(retry_s * 1000)
        self._tried: dict[str, int] = {}
        self._lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def __call__(self, project: str, url: str, release: str | None) -> None:
        """Starts fetching ``url`` for ``project`` unless not allowed or tried lately."""
        if project not in self.projects or not _fetchable(url):
            return
        now = self.now_ms()
        with self._lock:
            if now - self._tried.get(url, -self.retry_ms) < self.retry_ms:
                return
            self._tried[url] = now
            thread = threading.Thread(target=self.fetch, args=(project, url, release),
                                      name="wasmwatch-symbols-fetch", daemon=True)
            self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()

    def fetch(self, project: str, url: str, release: str | None) -> bool:
        """Fetches and stores one module; False (logged) when it cannot."""
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as answer:  # http(s) only, checked above
                data = answer.read(self.max_bytes + 1)
            if len(data) > self.max_bytes:
                raise ModuleError(f"larger than {self.max_bytes} bytes")
            module = parse(data)
        except (OSError, ValueError, ModuleError) as exc:
            log.warning("cannot fetch symbols from %s: %s", url, exc)
            return False
        name = posixpath.basename(urlsplit(url).path) or None
        self.store.put(from_module(module, project=project, release=release, name=name, url=url,
                                   source="fetch", now_ms=self.now_ms()))
        return True

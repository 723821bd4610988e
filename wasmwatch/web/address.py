"""The client address of a request, for per-address limits: the peer, or behind a trusted proxy
the nearest untrusted hop of ``X-Forwarded-For``.

Addresses are bucketed: IPv4 as is, IPv6 by its /64 network (one host usually holds a whole
/64, so counting single IPv6 addresses would let one client use millions).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from functools import lru_cache

from wasmwatch.errors import ConfigError
from wasmwatch.web.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = ["Network", "TrustedProxies", "bucket", "client_address", "parse_networks"]


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """Addresses or CIDR networks from settings; a bad one is a :class:`ConfigError`."""
    try:
        return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values)
    except ValueError as exc:
        raise ConfigError(f"trusted_proxies: {exc}") from exc


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


class TrustedProxies:
    """The ``trusted_proxies`` setting: ``proxies(address)`` says if one is trusted (cached)."""

    def __init__(self, values: Sequence[str] = ()) -> None:
        self.networks = parse_networks(values)
        self._cache: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __call__(self, text: str) -> bool:
        found = self._cache.get(text)
        if found is None:
            ip = _ip(text)
            found = ip is not None and any(ip in net for net in self.networks)
            if len(self._cache) >= 4096:
                self._cache.clear()
            self._cache[text] = found
        return found


def bucket(text: str) -> str:
    """The rate-limit bucket of an address: IPv4 itself, IPv6 its /64, anything else as is."""
    if text.count(".") == 3 and text.replace(".", "").isdigit() and len(text) <= 15:
        return text  # dotted IPv4, as servers put it in the scope: no parsing on the hot path
    return _bucket(text)


@lru_cache(maxsize=4096)
def _bucket(text: str) -> str:
    ip = _ip(text)
    if ip is None:
        return text[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_address(scope: Scope, headers: Mapping[str, str], trusted: TrustedProxies) -> str:
    """Who sent this request, as a bucket (see :func:`bucket`)."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if trusted and trusted(peer):
        hops = [h.strip() for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
        for hop in reversed(hops):
            if not trusted(hop):
                return bucket(hop)
        if hops:
            return bucket(hops[0])
    return bucket(peer)

"""Tests for wasmwatch.web.address: who sent a request."""

from __future__ import annotations

import pytest

from wasmwatch.errors import ConfigError
from wasmwatch.web.address import TrustedProxies, bucket, client_address, parse_networks

PROXIES = TrustedProxies(["10.0.0.0/8", "2001:db8:ffff::1"])


def test_peer_address_without_trusted_proxies() -> None:
    """Without trusted proxies the peer is the client and X-Forwarded-For is ignored."""
    scope = {"client": ("192.0.2.5", 5000)}
    assert client_address(scope, {"x-forwarded-for": "198.51.100.1"}, TrustedProxies()) == "192.0.2.5"
    assert client_address({"client": None}, {}, TrustedProxies()) == "unknown"


def test_forwarded_for_nearest_untrusted_hop() -> None:
    """Behind trusted proxies the client is the rightmost hop that is not a trusted proxy,
    so a client cannot pick its own address by sending the header itself."""
    scope = {"client": ("10.0.0.1", 5000)}
    headers = {"x-forwarded-for": "1.2.3.4, 198.51.100.7, 10.9.9.9"}
    assert client_address(scope, headers, PROXIES) == "198.51.100.7"
    assert client_address(scope, {}, PROXIES) == "10.0.0.1"
    assert client_address({"client": ("192.0.2.1", 1)}, headers, PROXIES) == "192.0.2.1"


def test_ipv6_is_bucketed_by_64() -> None:
    """IPv6 addresses count per /64; IPv4-mapped ones as their IPv4 address."""
    assert bucket("2001:db8:1:2:aaaa::1") == bucket("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert bucket("2001:db8:1:3::1") != bucket("2001:db8:1:2::1")
    assert bucket("::ffff:192.0.2.1") == "192.0.2.1"
    assert bucket("x" * 100) == "x" * 64


def test_bad_trusted_proxy_is_a_config_error() -> None:
    """A trusted_proxies entry that is not an address or network is refused at start."""
    with pytest.raises(ConfigError, match="trusted_proxies"):
        parse_networks(["not-an-ip"])

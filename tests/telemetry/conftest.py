"""Fixtures for telemetry tests."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from wasmwatch.telemetry.bus import Bus


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh registry."""
    return CollectorRegistry()


@pytest.fixture
def bus() -> Bus:
    """A fresh bus."""
    return Bus()

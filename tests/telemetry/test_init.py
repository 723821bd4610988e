"""Tests for the wasmwatch.telemetry package surface."""

from __future__ import annotations

import wasmwatch.telemetry as telemetry


def test_all_names_exist() -> None:
    """Every name in __all__ is importable from the package."""
    assert all(hasattr(telemetry, name) for name in telemetry.__all__)

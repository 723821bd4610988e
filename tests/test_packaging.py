"""Packages built from a clean clone of this repository are complete: the wheel carries the
built dashboard, SDK and demo, a LICENSE and SPDX metadata; `npm pack` of sdk/ carries dist/."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def run(*cmd: str, cwd: Path) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(cmd)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / ".git").exists() or shutil.which("npm") is None:
        pytest.skip("needs a git checkout and npm")
    dest = tmp_path_factory.mktemp("clone") / "wasmwatch"
    run("git", "clone", "--quiet", str(ROOT), str(dest), cwd=dest.parent)
    assert not (dest / "wasmwatch" / "web" / "static" / "sdk").exists()
    return dest


def test_npm_pack_carries_dist(clone: Path) -> None:
    """`npm ci && npm pack` in a clean sdk/ builds dist/ (prepack) and packs it with types."""
    sdk = clone / "sdk"
    assert not (sdk / "dist").exists()
    run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=sdk)
    run("npm", "pack", "--silent", "--pack-destination", str(clone), cwd=sdk)
    with tarfile.open(next(clone.glob("wasmwatch-*.tgz"))) as tar:
        names = set(tar.getnames())
    assert {"package/dist/wasmwatch.js", "package/dist/wasmwatch.iife.js", "package/dist/wasmwatch.d.ts",
            "package/dist/wasmwatch.iife.d.ts", "package/LICENSE"} <= names


def test_wheel_carries_the_browser_assets(clone: Path) -> None:
    """`pip wheel .` in a clean clone builds the assets first and ships them with the license."""
    run(sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", "dist", cwd=clone)
    with zipfile.ZipFile(next((clone / "dist").glob("wasmwatch-*.whl"))) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read("wasmwatch-0.1.0.dist-info/METADATA").decode()
    static = "wasmwatch/web/static/"
    assert {static + f for f in ("sdk/wasmwatch.js", "sdk/wasmwatch.iife.js", "sdk/wasmwatch.d.ts",
                                 "demo/index.html", "demo/demo.wasm", "dashboard/index.html",
                                 "dashboard/app.js")} <= names
    assert "wasmwatch-0.1.0.dist-info/licenses/LICENSE" in names
    assert "License-Expression: Apache-2.0" in metadata
    assert "Requires-Dist: duckdb<3,>=1.2" in metadata

"""Build hook: a wheel carries the browser assets (SDK, demo, dashboard).

They are built by ``make assets`` into ``wasmwatch/web/static/`` (gitignored), so a wheel built
from a clean clone or an sdist would hold none. ``build_py`` runs ``make assets`` first when
they are missing (it needs make, node and npm); an editable install leaves that to
``make install``. Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
STATIC = ROOT / "wasmwatch" / "web" / "static"
ASSETS = ("sdk/wasmwatch.js", "sdk/wasmwatch.iife.js", "sdk/wasmwatch.d.ts", "demo/index.html",
          "demo/demo.wasm", "dashboard/index.html", "dashboard/app.js")


def build_assets() -> None:
    if all((STATIC / asset).is_file() for asset in ASSETS):
        return
    missing = [tool for tool in ("make", "node", "npm") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"wasmwatch: the browser assets are not built and {', '.join(missing)} "
                         "is not on PATH: install Node.js and run `make assets` first")
    subprocess.run(["make", "assets"], cwd=ROOT, check=True)
    absent = [asset for asset in ASSETS if not (STATIC / asset).is_file()]
    if absent:
        raise SystemExit(f"wasmwatch: `make assets` did not build {', '.join(absent)}")


class BuildPyWithAssets(build_py):
    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            build_assets()
            self.__dict__.pop("data_files", None)  # glob the package data again, assets included
        super().run()


setup(cmdclass={"build_py": BuildPyWithAssets})

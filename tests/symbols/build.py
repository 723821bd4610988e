"""Builds tests/symbols/app.c into wasm with clang (Debian's clang and lld; `make test` installs
them): the debug build (name section and DWARF), its stripped copy, and a build whose function
indexes are shifted (another release of the same code)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from wasmwatch.symbols import strip

SOURCE = Path(__file__).with_name("app.c")
FLAGS = ["--target=wasm32", "-nostdlib", "-Wl,--no-entry", "-g", "-O1"]


@dataclass(frozen=True)
class Built:
    debug: Path
    stripped: Path
    shifted: Path

    def line_of(self, marker: str) -> int:
        """The source line holding ``marker`` (so tests name lines, not numbers)."""
        lines = SOURCE.read_text().splitlines()
        return next(i for i, text in enumerate(lines, 1) if marker in text)


def clang() -> str | None:
    return shutil.which("clang") if shutil.which("wasm-ld") else None


def build(out: Path) -> Built:
    cc = clang()
    if cc is None:
        raise RuntimeError("clang and wasm-ld are missing: run `make symbols-deps` (apt-get install clang lld)")
    out.mkdir(parents=True, exist_ok=True)
    debug, shifted = out / "app.debug.wasm", out / "app.shifted.wasm"
    subprocess.run([cc, *FLAGS, "-o", str(debug), str(SOURCE)], check=True)
    subprocess.run([cc, *FLAGS, "-DSHIFTED", "-o", str(shifted), str(SOURCE)], check=True)
    stripped = out / "app.wasm"
    stripped.write_bytes(strip(debug.read_bytes()))
    return Built(debug, stripped, shifted)

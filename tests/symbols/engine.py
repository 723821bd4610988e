"""Runs a module in Node's V8 (the engine of Chromium) and returns the stack of its trap."""

from __future__ import annotations

import subprocess
from pathlib import Path

_SCRIPT = """
const { instance } = await WebAssembly.instantiate(require('fs').readFileSync(process.argv[1]))
try { instance.exports[process.argv[2]](...process.argv.slice(3).map(Number)) } catch (e) { console.log(e.stack) }
"""


def trap_stack(module: Path, export: str, *args: int) -> str:
    script = "(async () => {" + _SCRIPT + "})()"
    out = subprocess.run(["node", "-e", script, str(module), export, *map(str, args)],
                         check=True, capture_output=True, text=True)
    return out.stdout

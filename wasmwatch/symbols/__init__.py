"""Symbolication of wasm frames: modules (``name`` section, build id, code hash), DWARF line
tables (pyelftools), symbol files in their own table, resolution on read, opt-in fetching."""

from wasmwatch.symbols.fetch import Fetcher
from wasmwatch.symbols.module import Module, ModuleError, parse, strip
from wasmwatch.symbols.resolve import Resolver, parse_frames, regroup
from wasmwatch.symbols.store import SymbolFile, SymbolStore, from_module

__all__ = ["Fetcher", "Module", "ModuleError", "Resolver", "SymbolFile", "SymbolStore", "from_module",
           "parse", "parse_frames", "regroup", "strip"]

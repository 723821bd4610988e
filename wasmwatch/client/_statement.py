"""A SQL statement made safe to store: literals replaced by ``?``, whitespace folded, cut.

Parameters are never recorded (drivers pass them apart from the statement); literals written
into the statement text are replaced here, before the statement leaves the process.
"""

from __future__ import annotations

import re

__all__ = ["LIMIT", "normalize", "operation_name"]

LIMIT = 2048
_LITERALS = re.compile(
    r"""'(?:[^']|'')*'|"""          # string literals (with '' escapes)
    r"""\b0x[0-9a-fA-F]+\b|"""       # hex numbers
    r"""(?<![\w$.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b""")  # numbers not inside names
_SPACE = re.compile(r"\s+")
_FIRST = re.compile(r"\s*(\w+)")
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+([\w.\"`\[\]]+)", re.IGNORECASE)


def normalize(statement: str) -> str:
    """The statement with string and number literals replaced by ``?``, cut to :data:`LIMIT`."""
    text = _LITERALS.sub("?", statement[: LIMIT * 4])
    return _SPACE.sub(" ", text).strip()[:LIMIT]


def operation_name(statement: str) -> str:
    """A short name for a query: its verb and first table (``SELECT items``)."""
    verb = _FIRST.match(statement)
    table = _TABLE.search(statement)
    name = verb.group(1).upper() if verb else "QUERY"
    return f"{name} {table.group(1).strip(chr(34) + '`[]')}" if table else name

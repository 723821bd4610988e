"""Errors raised for bad query arguments; the web layer answers every one with a 400.

Error tree::

    ValueError
    └── QueryError           a query argument cannot be used
        ├── WindowError      a window or step is malformed or out of range
        ├── UnknownMetric    a series metric that does not exist
        └── RangeError       a from/to range is malformed or out of bounds
"""

from __future__ import annotations

__all__ = ["QueryError", "RangeError", "UnknownMetric", "WindowError"]


class QueryError(ValueError):
    """A query argument that cannot be used; the message says why."""


class WindowError(QueryError):
    """A window or step that is malformed or out of range."""


class UnknownMetric(QueryError):
    """A series metric name that is not one of ``series.METRICS``."""


class RangeError(QueryError):
    """A ``from``/``to`` pair that does not make a usable range."""

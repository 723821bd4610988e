"""The names of the server's own events, and what they carry.

========================================  ==================================  ===================
event                                     measurements                        metadata
========================================  ==================================  ===================
``HTTP_REQUEST`` (span)                   ``duration`` s                      ``route``,
                                                                              ``method``,
                                                                              ``status`` on stop
``STORE_COMMIT`` (span)                   stop: ``duration`` s, ``items``,
                                          ``duplicates``, ``requests``
``INGEST_ACCEPTED``                       ``count``                           ``project``
``INGEST_LOST``                           ``count``                           ``reason``, one of
                                                                              ``LOSS_REASONS``
``INGEST_CLIENT_LOST``                    ``count`` (what an SDK dropped)     ``reason``
``LOG_DROPPED``                           ``count``
``VM_POLL``                               see :mod:`~wasmwatch.telemetry.poller`
========================================  ==================================  ===================

A span ``E`` executes ``E + ("start",)``, then ``E + ("stop",)`` or ``E + ("exception",)``.
"""

from __future__ import annotations

from wasmwatch.telemetry.bus import Event

__all__ = [
    "HTTP_REQUEST",
    "INGEST_ACCEPTED",
    "INGEST_CLIENT_LOST",
    "INGEST_LOST",
    "LOG_DROPPED",
    "LOSS_REASONS",
    "STORE_COMMIT",
    "VM_POLL",
]

HTTP_REQUEST: Event = ("wasmwatch", "http", "request")
STORE_COMMIT: Event = ("wasmwatch", "store", "commit")
INGEST_ACCEPTED: Event = ("wasmwatch", "ingest", "accepted")
INGEST_LOST: Event = ("wasmwatch", "ingest", "lost")
INGEST_CLIENT_LOST: Event = ("wasmwatch", "ingest", "client_lost")
LOG_DROPPED: Event = ("wasmwatch", "log", "dropped")
VM_POLL: Event = ("wasmwatch", "vm", "poll")

LOSS_REASONS = (
    "invalid", "rate_limited", "queue_full", "duplicate", "too_large", "unauthorized", "malformed",
)

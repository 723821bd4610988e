"""From a decoded envelope to rows: context once per batch, then each item on its own.

Processors are small callables ``(row) -> row | None`` run in order after validation (STYLE
10); returning None drops the row (counted as ``filtered``). The default is the PII scrubber
(:mod:`wasmwatch.ingest.scrub`) over every client string of the row; the batch's context
fields are scrubbed once per batch in :meth:`Pipeline.batch`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.scrub import Scrubber
from wasmwatch.ingest.useragent import parse_agent
from wasmwatch.ingest.validate import (
    LIMITS,
    Batch,
    ItemError,
    check_item,
    clip,
    decode_item,
    strip_query,
    template_row,
)
from wasmwatch.store.schema import Row

Processor = Callable[[Row], Row | None]
_DAY_MS = 86_400_000


class Pipeline:
    def __init__(
        self,
        *,
        retention_days: int = 30,
        skew_tolerance_ms: int = 2000,
        scrubber: Scrubber | None = None,
        processors: Sequence[Processor] | None = None,
    ) -> None:
        """``processors`` default to the scrubber's row processor (pass ``()`` for none)."""
        self.retention_ms = retention_days * _DAY_MS
        self.skew_tolerance_ms = skew_tolerance_ms
        self.scrubber = scrubber or Scrubber()
        self.processors = (self.scrubber.row,) if processors is None else tuple(processors)

    def batch(
        self, ctx: s.Context, *, project: str, user_agent: str | None, sent_at: float | None,
        now_ms: int,
    ) -> Batch:
        """Sanitize and enrich a batch's context, and measure the client's clock skew."""
        skew = 0
        if sent_at is not None and sent_at == sent_at and abs(sent_at) < 1e15:
            offset = now_ms - int(sent_at)
            if abs(offset) > self.skew_tolerance_ms:
                skew = offset
        agent = parse_agent(ctx.user_agent or user_agent)
        limit = LIMITS["context"]
        device = clip(ctx.device, limit) if ctx.device and ctx.device != "unknown" else agent.device
        scrub = self.scrubber.scrub_optional
        shared: dict[str, Any] = dict(
            session=scrub(clip(ctx.session, limit)), release=scrub(clip(ctx.release, limit)),
            page=scrub(strip_query(ctx.page, LIMITS["page"])),
            connection=scrub(clip(ctx.connection, limit)), device=scrub(device),
            browser=scrub(agent.browser), browser_major=agent.browser_major, os=scrub(agent.os),
            online=ctx.online, sdk=scrub(clip(ctx.sdk, limit)),
        )
        return Batch(project=project, received=now_ms, skew_ms=skew,
                     min_ts=now_ms - self.retention_ms, max_ts=now_ms + _DAY_MS, **shared,
                     template=template_row(project, now_ms, **shared))

    def rows(
        self, items: Sequence[msgspec.Raw | bytes | s.Item], batch: Batch
    ) -> tuple[list[Row], list[s.Rejection], int]:
        """Rows for the good items, a rejection for each bad one, and how many were filtered.

        ``items`` are raw JSON (decoded here one by one) or items decoded already.
        """
        rows: list[Row] = []
        rejected: list[s.Rejection] = []
        filtered = 0
        processors = self.processors
        for index, raw in enumerate(items):
            try:
                if isinstance(raw, msgspec.Raw | bytes):
                    row: Row | None = decode_item(raw, index, batch)
                else:
                    row = check_item(raw, index, batch)
            except ItemError as exc:
                rejected.append(s.Rejection(index, str(exc)))
                continue
            except RecursionError:
                rejected.append(s.Rejection(index, f"items[{index}]: JSON nested too deeply"))
                continue
            for processor in processors:
                if row is None:
                    break
                row = processor(row)
            if row is None:
                filtered += 1
            else:
                rows.append(row)
        return rows, rejected, filtered

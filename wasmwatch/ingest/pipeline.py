"""From a decoded envelope to a :class:`~wasmwatch.ingest.columnar.Chunk`: context once per
batch, the items checked as a whole.

The common path has no Python step per item: the batch was decoded and checked in one typed
call, the timestamps are checked by their minimum and maximum and the ids by one regex over
them all. Only when that fails (a bad
item, a timestamp out of range) are the items looked at one by one, to name each rejection.
Clamping, truncation and derived columns happen later, on columns (:mod:`.columnar`).

Every client string is scrubbed of PII by :mod:`wasmwatch.ingest.scrub`: the batch's context
once per batch here, an error's strings and a measurement's tags per item in
:func:`~wasmwatch.ingest.columnar.prepare` (the fingerprint is made of the scrubbed text), and
the other strings and the ids a column at a time when the group is committed
(:class:`~wasmwatch.ingest.columnar.Prepared`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import msgspec

from wasmwatch.ingest import schema as s
from wasmwatch.ingest.columnar import LIMITS, Chunk, prepare
from wasmwatch.ingest.scrub import Scrubber
from wasmwatch.ingest.useragent import parse_agent
from wasmwatch.ingest.validate import ItemError, id_error, ids_valid, path_error, ts_error

_DAY_MS = 86_400_000
#: contexts remembered: the sessions sending at once, many times over; only contexts whose
#: strings (user agent included) total at most _SHARED_MAX_CHARS, so at most ~4 MB in all
_SHARED_MAX = 1024
_SHARED_MAX_CHARS = 2048
_item_decoder = msgspec.json.Decoder(s.Item)


def clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[:limit]


def strip_query(url: str | None, limit: int) -> str | None:
    """Drop query string and fragment: they carry tokens and personal data."""
    if url is None:
        return None
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=len(url))
    return clip(url[:cut], limit)


class Batch(NamedTuple):
    """What every item of a batch shares, already sanitized and enriched."""

    #: values in ``layout.CONTEXT_COLUMNS`` order (project, received, skew, session, ...)
    context: tuple[object, ...]
    skew_ms: int
    min_ts: int
    max_ts: int


#: a release that is a git commit id (lowercase hex, as `git rev-parse` prints it) is kept as
#: is: the scrubber would take 40 hex characters for a secret
_COMMIT_ID = re.compile(r"[0-9a-f]{7,64}").fullmatch


class Pipeline:
    def __init__(self, *, retention_days: int = 30, skew_tolerance_ms: int = 2000,
                 scrubber: Scrubber | None = None, scrub: bool = True) -> None:
        """``scrub=False`` stores client strings as sent (for benchmarks of the scrubber)."""
        self.retention_ms = retention_days * _DAY_MS
        self.skew_tolerance_ms = skew_tolerance_ms
        self.scrubber = scrubber or Scrubber()
        self._item_scrubber = self.scrubber if scrub else None
        #: sanitized context columns by (project, context, user agent), see :meth:`_context`
        self._shared: dict[tuple[object, ...], tuple[object, ...]] = {}

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
        key = (project, ctx, None if ctx.user_agent else user_agent)
        shared = self._shared.get(key)
        if shared is None:
            shared = self._context(ctx, project, user_agent)
        return Batch((project, now_ms, skew, *shared), skew, now_ms - self.retention_ms,
                     now_ms + _DAY_MS)

    def _context(self, ctx: s.Context, project: str, user_agent: str | None) -> tuple[object, ...]:
        """The context columns after ``skew``, sanitized; remembered when the scrubber found
        nothing in them (a session sends the same context with every batch; a context with
        PII is scrubbed again each time, so the scrubber's counts stay per occurrence)."""
        agent = parse_agent(ctx.user_agent or user_agent)
        limit = LIMITS["context"]
        device = clip(ctx.device, limit) if ctx.device and ctx.device != "unknown" else agent.device
        release = clip(ctx.release, limit)
        # clipped once, scrubbed once: (session, page, connection, device, browser, os, sdk,
        # service); a release that is a commit id is not scrubbed (_COMMIT_ID)
        raw = (clip(ctx.session, limit), strip_query(ctx.page, LIMITS["page"]),
               clip(ctx.connection, limit), device, agent.browser, agent.os,
               clip(ctx.sdk, limit), clip(ctx.service, limit))
        if self._item_scrubber:
            scrub = self.scrubber.scrub_optional
            clean = tuple(map(scrub, raw))
            release_clean = release if release and _COMMIT_ID(release) else scrub(release)
        else:
            clean, release_clean = raw, release
        session, page, connection, device, browser, os_, sdk, service = clean
        context = (session, release_clean, page, connection, device, browser, agent.browser_major,
                   os_, ctx.online, sdk, service)
        if self._item_scrubber and clean == raw and release_clean == release:
            strings = [v for v in (*msgspec.structs.astuple(ctx), user_agent) if isinstance(v, str)]
            if sum(map(len, strings)) <= _SHARED_MAX_CHARS:
                if len(self._shared) >= _SHARED_MAX:
                    self._shared.clear()
                self._shared[(project, ctx, None if ctx.user_agent else user_agent)] = context
        return context

    def check(
        self, items: Sequence[msgspec.Raw | bytes | s.Item], batch: Batch, nbytes: int,
        typed: bool,
    ) -> tuple[Chunk, list[s.Rejection]]:
        """The good items as a chunk, and a rejection for each bad one.

        ``items`` are all decoded already (``typed``), or raw JSON to decode one by one.
        """
        if typed and items:
            good: list[s.Item] = items  # type: ignore[assignment]
            lo, hi = self.ts_bounds(good)
            if (lo + batch.skew_ms >= batch.min_ts and hi + batch.skew_ms <= batch.max_ts
                    and ids_valid([it.id for it in good])):
                return self.chunk(batch, good, nbytes), []
        good, rejected = self._one_by_one(items, batch)
        return self.chunk(batch, good, nbytes), rejected

    @staticmethod
    def ts_bounds(items: Sequence[s.Item]) -> tuple[int, int]:
        """The lowest and highest ``ts`` of (non-empty) ``items``, as whole milliseconds."""
        ts = [it.ts for it in items]
        return int(min(ts)), int(max(ts))

    def chunk(self, batch: Batch, good: list[s.Item], nbytes: int) -> Chunk:
        """The checked items as a chunk: derived fields filled, strings scrubbed at commit."""
        prepare(good, self._item_scrubber)
        return Chunk(batch.context, good, nbytes, self._item_scrubber)

    def _one_by_one(self, items: Sequence[msgspec.Raw | bytes | s.Item], batch: Batch
                    ) -> tuple[list[s.Item], list[s.Rejection]]:
        good: list[s.Item] = []
        rejected: list[s.Rejection] = []
        for index, raw in enumerate(items):
            try:
                item = self.item(raw, index, batch)
            except ItemError as exc:
                rejected.append(s.Rejection(index, str(exc)))
                continue
            except RecursionError:
                rejected.append(s.Rejection(index, f"items[{index}]: JSON nested too deeply"))
                continue
            good.append(item)
        return good, rejected

    def item(self, raw: msgspec.Raw | bytes | s.Item, index: int, batch: Batch,
             prefix: str = "items") -> s.Item:
        """Decode (if raw) and check ``items[index]``; raises ItemError naming the field."""
        if isinstance(raw, msgspec.Raw | bytes):
            try:
                item: s.Item = _item_decoder.decode(raw)
            except msgspec.MsgspecError as exc:
                raise ItemError(path_error(f"{prefix}[{index}]", exc)) from exc
        else:
            item = raw
        reason = id_error(item.id)
        if reason:
            raise ItemError(f"{prefix}[{index}].{reason}")
        reason = ts_error(int(item.ts) + batch.skew_ms, batch.min_ts, batch.max_ts)
        if reason:
            raise ItemError(f"{prefix}[{index}].{reason}")
        return item

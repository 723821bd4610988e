"""Performance impact, cost and adoption over a range, per session, from raw items.

* ``bounce``: sessions bucketed by their first bundle load's total ms (< 1 s, 1-2 s, 2-5 s,
  > 5 s), with the share that bounced: left (sent an ``engagement`` item, which the SDK sends
  when the page is hidden) with less than ``bounce_threshold_s`` of visible time and no
  operation. Sessions that have neither left nor run an operation yet are ``undecided`` and
  left out of the shares.
* ``cost``: WASM bytes served from the network (``transfer_bytes`` of uncached loads) at
  ``cdn_price_per_gb`` (GB = 10^9 bytes, as CDNs bill), the bytes the cache saved (cached loads
  times the mean network transfer), and the server work the client did instead: client
  operations at ``server_cost_per_million_ops``.
* ``engagement``: visible time online and offline (total and per session), each feature's
  share of sessions, and offline adoption: sessions that ran operations offline, and features
  used while offline.
"""

from __future__ import annotations

from typing import Any

from wasmwatch.query.sources import Filters, raw_items

__all__ = ["BOUNCE_BUCKETS", "insights"]

Json = dict[str, Any]
GB = 1_000_000_000
# (label, lower ms inclusive, upper ms exclusive or None)
BOUNCE_BUCKETS = (("< 1 s", 0, 1000), ("1-2 s", 1000, 2000), ("2-5 s", 2000, 5000),
                  ("> 5 s", 5000, None))

_SESSIONS = """
WITH x AS (SELECT * FROM {items} WHERE {where} AND session IS NOT NULL)
SELECT session,
  arg_min(ms, ts) FILTER (WHERE type = 'bundle_load') AS first_load,
  count(*) FILTER (WHERE type = 'operation') AS ops,
  count(*) FILTER (WHERE type = 'operation' AND offline) AS offline_ops,
  count(*) FILTER (WHERE type = 'engagement') AS visits,
  coalesce(sum(ms) FILTER (WHERE type = 'engagement'), 0) AS visible_ms
FROM x GROUP BY session"""

_TOTALS = """
SELECT
  CAST(coalesce(sum(transfer_bytes) FILTER (WHERE type = 'bundle_load'
       AND NOT coalesce(cached, false)), 0) AS BIGINT),
  count(*) FILTER (WHERE type = 'bundle_load' AND NOT coalesce(cached, false)),
  count(*) FILTER (WHERE type = 'bundle_load' AND cached),
  count(*) FILTER (WHERE type = 'operation'),
  coalesce(sum(ms) FILTER (WHERE type = 'engagement' AND NOT coalesce(offline, false)), 0),
  coalesce(sum(ms) FILTER (WHERE type = 'engagement' AND offline), 0),
  count(DISTINCT session)
FROM {items} WHERE {where}"""

_FEATURES = """
SELECT name, count(DISTINCT session), count(DISTINCT session) FILTER (WHERE online = false)
FROM {items} WHERE {where} AND type = 'feature' AND name IS NOT NULL GROUP BY name
ORDER BY 2 DESC, name LIMIT 50"""


def _bucket(ms: float | None) -> str | None:
    if ms is None:
        return None
    return next(label for label, low, high in BOUNCE_BUCKETS
                if ms >= low and (high is None or ms < high))


def _bounce(rows: list[tuple[Any, ...]], threshold_ms: float) -> Json:
    counts = {label: [0, 0, 0] for label, _, _ in BOUNCE_BUCKETS}  # sessions, bounced, undecided
    for _, first_load, ops, _, visits, visible in rows:
        label = _bucket(first_load)
        if label is None:
            continue
        c = counts[label]
        if not ops and not visits:
            c[2] += 1
            continue
        c[0] += 1
        c[1] += int(not ops and visible < threshold_ms)
    buckets = {label: {"sessions": n, "bounced": b, "undecided": u,
                       "bounce_rate": b / n if n else None}
               for label, (n, b, u) in counts.items()}
    return {"threshold_s": threshold_ms / 1000, "buckets": buckets}


def _cost(totals: tuple[Any, ...], cdn_price_per_gb: float, per_million_ops: float) -> Json:
    network_bytes, network_loads, cached_loads, ops = totals[:4]
    mean = network_bytes / network_loads if network_loads else 0.0
    saved = cached_loads * mean
    return {
        "network_bytes": int(network_bytes), "network_loads": network_loads,
        "cached_loads": cached_loads, "cache_saved_bytes": int(saved),
        "network_cost": network_bytes / GB * cdn_price_per_gb,
        "cache_saved_cost": saved / GB * cdn_price_per_gb,
        "client_operations": ops,
        "server_equivalent_cost": ops / 1_000_000 * per_million_ops,
        "cdn_price_per_gb": cdn_price_per_gb, "server_cost_per_million_ops": per_million_ops,
    }


def _engagement(totals: tuple[Any, ...], sessions: list[tuple[Any, ...]],
                features: list[tuple[Any, ...]]) -> Json:
    online, offline, n = float(totals[4]), float(totals[5]), int(totals[6])
    offline_sessions = sum(1 for s in sessions if s[3])
    return {
        "sessions": n, "online_ms": online, "offline_ms": offline,
        "online_ms_per_session": online / n if n else None,
        "offline_ms_per_session": offline / n if n else None,
        "offline_sessions": offline_sessions,
        "offline_adoption": offline_sessions / n if n else None,
        "features": {name: {"sessions": k, "share": k / n if n else None, "offline_sessions": o}
                     for name, k, o in features},
    }


def insights(con: Any, *, project: str, window_s: int, now_ms: int,
             release: str | None = None, browser: str | None = None,
             bounce_threshold_s: float = 10.0, cdn_price_per_gb: float = 0.085,
             server_cost_per_million_ops: float = 0.40) -> Json:
    """Bounce by load time, cost and engagement over the last ``window_s`` before ``now_ms``."""
    from_ms = now_ms - window_s * 1000
    items, where = raw_items(from_ms, now_ms, con), Filters(project, release, browser).where()
    params = [*items.params, *where.params]

    def run(sql: str) -> list[tuple[Any, ...]]:
        return list(con.execute(sql.format(items=items.text, where=where.text), params).fetchall())

    sessions, totals, features = run(_SESSIONS), run(_TOTALS)[0], run(_FEATURES)
    return {
        "window_s": window_s, "from_ms": from_ms, "to_ms": now_ms,
        "bounce": _bounce(sessions, bounce_threshold_s * 1000),
        "cost": _cost(totals, cdn_price_per_gb, server_cost_per_million_ops),
        "engagement": _engagement(totals, sessions, features),
    }

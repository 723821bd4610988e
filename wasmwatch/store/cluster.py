"""The ClickHouse cluster layout: ``ReplicatedMergeTree`` tables per shard, ``Distributed`` on top.

wasmwatch makes its tables itself with ``CREATE ... IF NOT EXISTS`` (:func:`~wasmwatch.store.
clickhouse.ddl`), which on a cluster would make plain local tables on one node. Run these
statements once (``python -m wasmwatch.store.cluster --cluster NAME --database DB``) before
the first node starts; wasmwatch then finds its tables and leaves them alone:

* ``items_local``: ``ReplicatedReplacingMergeTree`` on every shard (same columns, partitions,
  sort key and TTL as a single server); ``items``: ``Distributed`` over it, sharded by
  ``cityHash64(project, id)``, so every copy of one item id lands on one shard and the sort-key
  collapse of ``ReplacingMergeTree`` can meet it;
* ``rollup_*_local`` and their materialized views on ``items_local``: each shard aggregates
  what it stores; ``rollup_*``: ``Distributed`` over them, read by the query layer;
* ``ww_meta``, ``ww_projects``, ``ww_ingest_keys``: tiny, replicated in full to every node (one
  replication path for all shards), so every node reads them locally.

Nodes connect with ``insert_distributed_sync = 1`` (set by the store for servers): an insert
into ``items`` returns once the shards have it, so a 2xx still means stored.
"""

from __future__ import annotations

import argparse
import sys

from wasmwatch.query import rollup
from wasmwatch.store import clickhouse as ch

__all__ = ["cluster_ddl"]


def _replicated(engine: str, path: str, arg: str = "") -> str:
    extra = f", {arg}" if arg else ""
    return f"Replicated{engine}('/clickhouse/tables/{path}', '{{replica}}'{extra})"


def cluster_ddl(cluster: str, database: str, retention_days: int = 30) -> list[str]:
    """Every statement of the cluster layout, in order."""
    on = f"ON CLUSTER {cluster}"
    db = database
    out = [f"CREATE DATABASE IF NOT EXISTS {db} {on}",
           f"CREATE TABLE IF NOT EXISTS {db}.items_local {on} {ch.items_columns()} ENGINE = "
           f"{_replicated('ReplacingMergeTree', '{shard}/' + db + '/items_local')}"
           f"{ch.items_layout(retention_days)}",
           f"CREATE TABLE IF NOT EXISTS {db}.items {on} AS {db}.items_local "
           f"ENGINE = Distributed({cluster}, {db}, items_local, cityHash64(project, id))"]
    for tier in rollup.TIERS:
        for table, columns, hist in ((tier.table, rollup._COUNTER_COLUMNS, False),
                                     (tier.hist, rollup._HIST_COLUMNS, True)):
            out += [
                f"CREATE TABLE IF NOT EXISTS {db}.{table}_local {on} {ch.rollup_columns(columns)} "
                f"ENGINE = {_replicated('MergeTree', '{shard}/' + db + '/' + table + '_local')}"
                f"{ch.rollup_layout(retention_days)}",
                f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{table}_mv {on} TO "
                f"{db}.{table}_local AS {ch.view_select(tier, hist, f'{db}.items_local')}",
                f"CREATE TABLE IF NOT EXISTS {db}.{table} {on} AS {db}.{table}_local "
                f"ENGINE = Distributed({cluster}, {db}, {table}_local, rand())"]
    for name, cols, engine, version, key in ch.SHARED:
        out.append(f"CREATE TABLE IF NOT EXISTS {db}.{name} {on} {cols} ENGINE = "
                   f"{_replicated(engine, 'all/' + db + '/' + name, version)} ORDER BY {key}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wasmwatch.store.cluster",
                                     description="print the ClickHouse cluster DDL")
    parser.add_argument("--cluster", required=True, help="the cluster name in remote_servers")
    parser.add_argument("--database", default="wasmwatch")
    parser.add_argument("--retention-days", type=int, default=30)
    args = parser.parse_args(argv)
    for statement in cluster_ddl(args.cluster, args.database, args.retention_days):
        print(statement + ";\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

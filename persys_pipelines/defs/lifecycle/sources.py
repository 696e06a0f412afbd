"""`core/<table>`: the tables a person's apps write, observed (rows, bytes) but not produced."""

from __future__ import annotations

import dagster as dg
from psycopg import sql

from ...lib.config import Config
from ...lib.pg.catalog import table_exists
from ..resources import PostgresTierResource


def core_source(table: str) -> dg.SourceAsset:
    @dg.observable_source_asset(
        key=dg.AssetKey(["core", table]),
        group_name="core",
        description=f"{table} in the core tier (Supabase free tier): written by your apps.",
        # observable_source_asset silently drops `kinds=`; the UI reads the kind tag
        tags={"dagster/kind/postgres": ""},
    )
    def _observe(core: PostgresTierResource) -> dg.ObserveResult:
        with core.handle().connect() as conn:
            if not table_exists(conn, table):
                return dg.ObserveResult(metadata={"rows": 0, "bytes": 0})
            rows, size = conn.execute(
                sql.SQL("select count(*), pg_total_relation_size({}::regclass) from {}").format(
                    sql.Literal(table), sql.Identifier(table)
                )
            ).fetchone()
        return dg.ObserveResult(
            metadata={"rows": dg.IntMetadataValue(rows), "bytes": dg.IntMetadataValue(size),
                      "dagster/row_count": dg.IntMetadataValue(rows)},
            data_version=dg.DataVersion(f"{rows}:{size}"),
        )

    return _observe


def core_sources(cfg: Config) -> list[dg.SourceAsset]:
    return [core_source(table) for table in cfg.tables]

"""`core/<table>`: the tables a person's apps write, observed (rows, days, bytes) but not
produced.

Observed by the Observe button, and recorded without a run where the numbers are known anyway,
so the UI never says "Never observed" for a table persys manages: `persys up` records every
core table when it starts, and each core→main move records what it left in core.
"""

from __future__ import annotations

import dagster as dg
import psycopg
from psycopg import sql

from ...lib.config import Config, TablePolicy
from ...lib.errors import PersysError
from ...lib.pg.catalog import ident, regclass, table_exists
from ...lib.pg.tables import day_expression
from ...lib.pg.tiers import PgTier
from ..resources import PostgresTierResource


def core_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["core", table])


def core_facts(conn: psycopg.Connection, table: str, policy: TablePolicy, zone: str
               ) -> dict[str, dg.MetadataValue]:
    """Rows, distinct days, first/last day and bytes of the table in core (zeros when absent)."""
    if not table_exists(conn, table):
        rows, days, first, last, size = 0, 0, None, None, 0
    else:
        day = day_expression(conn, table, policy, zone)
        rows, days, first, last, size = conn.execute(sql.SQL(
            "select count(*), count(distinct {day}), min({day}), max({day}), "
            "pg_total_relation_size({name}::regclass) from {t}").format(
                day=day, name=sql.Literal(regclass(table)), t=ident(table))).fetchone()
    return {
        "rows": dg.IntMetadataValue(rows),
        "days": dg.IntMetadataValue(days),
        "first_day": dg.TextMetadataValue(first.isoformat() if first else "-"),
        "last_day": dg.TextMetadataValue(last.isoformat() if last else "-"),
        "bytes": dg.IntMetadataValue(size),
        "dagster/row_count": dg.IntMetadataValue(rows),
    }


def core_observation(tier: PgTier, cfg: Config, table: str) -> dg.AssetObservation:
    with tier.connect() as conn:
        facts = core_facts(conn, table, cfg.tables[table], cfg.timezone)
    return dg.AssetObservation(asset_key=core_key(table), metadata=facts)


def record_core_tables(cfg: Config, tier: PgTier, instance: dg.DagsterInstance) -> list[str]:
    """An observation of every core table in `instance`, without a run (`persys up`); the
    tables that could not be read are returned (they stay as they were in the UI)."""
    skipped = []
    for table in cfg.tables:
        try:
            instance.report_runless_asset_event(core_observation(tier, cfg, table))
        except (PersysError, psycopg.Error):
            skipped.append(table)
    return skipped


def core_source(table: str) -> dg.SourceAsset:
    @dg.observable_source_asset(
        key=core_key(table),
        group_name="core",
        description=f"{table} in the core tier (Supabase free tier): written by your apps.",
        # observable_source_asset silently drops `kinds=`; the UI reads the kind tag
        tags={"dagster/kind/postgres": ""},
    )
    def _observe(core: PostgresTierResource) -> dg.ObserveResult:
        cfg = core.config()
        if table not in cfg.tables:  # persys.yaml changed since the definitions loaded
            raise dg.Failure(f"{table} is no longer under tables: in persys.yaml; reload the "
                             "code location (Deployment → Reload) to drop it from the UI")
        with core.handle().connect() as conn:
            facts = core_facts(conn, table, cfg.tables[table], cfg.timezone)
        return dg.ObserveResult(metadata=facts, data_version=dg.DataVersion(
            f"{facts['rows'].value}:{facts['bytes'].value}"))

    return _observe


def core_sources(cfg: Config) -> list[dg.SourceAsset]:
    return [core_source(table) for table in cfg.tables]

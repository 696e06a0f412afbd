"""Shared set-up for the archive tests: sample rows placed in main, tier snapshots to compare."""

from __future__ import annotations

import datetime as dt

from psycopg import sql

from persys_pipelines.handles import resolve_tier, setup_tiers
from persys_pipelines.lib import sample_data
from persys_pipelines.lib.config import Config
from persys_pipelines.lib.pg.catalog import ident

AS_OF_DATA = dt.date(2024, 4, 30)  # sample rows cover 2024-02-01 .. 2024-04-30
LATER = dt.date(2025, 6, 1)  # main_days 365 → Feb..Apr 2024 are due


def rows_in_main(cfg: Config, days: int = 90, seed: int = 3) -> dict[str, int]:
    """Sample rows written straight into main (as if the lifecycle had moved them there)."""
    setup_tiers(cfg)
    rows = sample_data.generate(days, seed, AS_OF_DATA, cfg.zone)
    with resolve_tier(cfg, "main").connect() as conn:
        return sample_data.load(conn, rows).rows


def snapshot(cfg: Config, table: str) -> list[tuple]:
    """Every row of the table in main as PostgreSQL's text form, sorted (exact comparison)."""
    with resolve_tier(cfg, "main").connect() as conn:
        return sorted(conn.execute(
            sql.SQL("select t::text from {} t").format(ident(table))).fetchall())


def count(cfg: Config, table: str) -> int:
    with resolve_tier(cfg, "main").connect() as conn:
        return conn.execute(sql.SQL("select count(*) from {}").format(ident(table))
                            ).fetchone()[0]

"""`persys setup`: attach the tiers, create the schema, check everything is usable.

The person's database is theirs (DESIGN.md, invariant 8): setup creates in it only what the
project needs itself (the ledger and monitoring tables in main; its output tables
daily_summaries, daily_projections, voice_messages in core and main) and a sample table
(journal_entries, health_metrics, tasks, transactions, shadow_work) only when asked: with
`--sample-data` (all of them), or when persys.yaml's `tables:` names it and it does not exist
yet in core. The packaged persys.yaml names them all, so an empty core set up with the default
config gets the sample schema; a config whose `tables:` lists only the person's own tables
gets none of it. A table that already exists is never touched. Main's copy of a sample table
is created with core's only when setup made core's in the same run; otherwise the first move
makes it from core's definition (`pg.mirror`), so it always matches what core really holds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import sample_data
from .config import Config
from .pg.schema import (
    OUTPUT_TABLES,
    SAMPLE_TABLES,
    create_ledger,
    create_monitoring_tables,
    create_personal_tables,
    table_columns,
    table_exists,
)
from .pg.tables import TableError, day_expression
from .pg.tiers import PgTier, TierUnavailable, resolve_tier, resolve_tiers


@dataclass(frozen=True)
class Check:
    item: str
    ok: bool
    detail: str = ""


def sample_tables_wanted(cfg: Config, *, sample_data: bool) -> list[str]:
    """The sample tables setup may create: all with `--sample-data`, else those persys.yaml's
    `tables:` names (naming one is asking for it)."""
    return [t for t in SAMPLE_TABLES if sample_data or t in cfg.tables]


def setup_tiers(cfg: Config, *, sample_data: bool = False) -> dict[str, list[str]]:
    """Create what the project needs, and the sample tables asked for (module docstring);
    returns tier → tables created. Idempotent; existing tables are left as they are."""
    tiers = resolve_tiers(cfg)
    sample = sample_tables_wanted(cfg, sample_data=sample_data)
    with tiers["core"].connect() as conn:
        core = create_personal_tables(conn, partitioned=True, only=[*sample, *OUTPUT_TABLES])
    with tiers["main"].connect() as conn:
        in_main = [t for t in sample if t in core] + list(OUTPUT_TABLES)
        main = create_personal_tables(conn, only=in_main)
        create_ledger(conn)
        create_monitoring_tables(conn)
    return {"core": core, "main": main}


def load_sample_data(
    cfg: Config, *, days: int, seed: int, as_of: dt.date | None = None
) -> dict[str, int]:
    """Generate and COPY sample rows into core; refuses when any sample table holds rows."""
    tiers = resolve_tiers(cfg)
    with tiers["core"].connect() as core, tiers["main"].connect() as main:
        _refuse_foreign_tables(core)
        occupied = sample_data.occupied_tables([core, main])
        if occupied:
            listed = ", ".join(f"{t} ({n} rows)" for t, n in sorted(occupied.items()))
            raise sample_data.SampleDataRefused(
                f"sample data goes only into empty tables, and these hold rows: {listed}. "
                "Use a fresh home (PERSYS_HOME=/some/new/folder) to try sample data."
            )
        as_of = as_of or cfg.today()
        rows = sample_data.generate(days, seed, as_of, cfg.zone)
        _ensure_partitions(cfg, core, as_of - dt.timedelta(days=days + 1), as_of)
        return sample_data.load(core, rows).rows


def _refuse_foreign_tables(core) -> None:
    """A sample table's name may be the person's own table (their `tasks`): sample rows go
    only into tables with the sample's columns, never into the person's."""
    for table, columns in sample_data.COLUMNS.items():
        have = table_columns(core, table)
        if not set(columns) <= set(have):
            raise sample_data.SampleDataRefused(
                f"core's table {table} is not the sample schema's (columns: "
                f"{', '.join(have) or 'none'}); sample data never goes into your own tables. "
                "Use a fresh home (PERSYS_HOME=/some/new/folder) to try sample data.")


def _ensure_partitions(cfg: Config, core, first: dt.date, last: dt.date) -> None:
    """Month partitions for the sample days, so the rows land where moves can drop them."""
    from .tiering.planner import months_between
    from .tiering.space import ensure_months

    for table, policy in cfg.tables.items():
        if table_exists(core, table):
            ensure_months(core, table, policy, cfg.timezone, months_between(first, last))
    core.commit()


def validate(cfg: Config) -> list[Check]:
    """Config, connectivity and schema of every tier, as ok/fail items (never raises)."""
    checks = [Check("config", True, f"{len(cfg.tables)} tables, timezone {cfg.timezone}")]
    for name in ("core", "main"):
        try:
            tier = resolve_tier(cfg, name)
            with tier.connect() as conn:
                conn.execute("select 1")
            checks.append(Check(f"{name}: connect", True, repr(tier)))
        except (TierUnavailable, Exception) as exc:  # any failure is a fail line, not a crash
            checks.append(Check(f"{name}: connect", False, str(exc).splitlines()[0]))
            continue
        checks.extend(_schema_checks(cfg, tier))
    return checks


def _missing_check(tier: str, table: str, exists: bool) -> Check | None:
    """The check line for a missing table (None when it exists). Sample tables persys.yaml
    does not name are not the project's business, so they are never checked."""
    if exists:
        return None
    if tier == "main" and table not in OUTPUT_TABLES:
        return Check(f"main: {table}", True, "created from core's on first move")
    ours = table in OUTPUT_TABLES or table in SAMPLE_TABLES
    hint = "run `persys setup`" if ours else "create it or drop it from persys.yaml"
    return Check(f"{tier}: {table}", False, f"missing; {hint}")


def _schema_checks(cfg: Config, tier: PgTier) -> list[Check]:
    """Ledger (main), the project's output tables and every table persys.yaml names."""
    checks = []
    with tier.connect() as conn:
        if tier.name == "main":
            ok = table_exists(conn, "persys_ledger")
            checks.append(Check("main: persys_ledger", ok, "" if ok else "run `persys setup`"))
        for table in dict.fromkeys([*OUTPUT_TABLES, *cfg.tables]):
            missing = _missing_check(tier.name, table, table_exists(conn, table))
            if missing is not None:
                checks.append(missing)
                continue
            policy = cfg.tables.get(table)
            try:
                if policy is not None:
                    day_expression(conn, table, policy, cfg.timezone)
                checks.append(Check(f"{tier.name}: {table}", True))
            except TableError as exc:
                checks.append(Check(f"{tier.name}: {table}", False, str(exc)))
    return checks

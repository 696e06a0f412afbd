"""`persys setup`: attach the tiers, create the schema, check everything is usable."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import sample_data
from .config import Config
from .pg.schema import (
    PERSONAL_TABLES,
    create_ledger,
    create_monitoring_tables,
    create_personal_tables,
    table_exists,
)
from .pg.tables import TableError, day_expression
from .pg.tiers import PgTier, TierUnavailable, resolve_tier, resolve_tiers


@dataclass(frozen=True)
class Check:
    item: str
    ok: bool
    detail: str = ""


def setup_tiers(cfg: Config) -> dict[str, list[str]]:
    """Create missing tables in core and main, and the ledger in main; tier → tables created."""
    created: dict[str, list[str]] = {}
    for name, tier in resolve_tiers(cfg).items():
        with tier.connect() as conn:
            created[name] = create_personal_tables(conn, partitioned=name == "core")
            if name == "main":
                create_ledger(conn)
                create_monitoring_tables(conn)
    return created


def load_sample_data(
    cfg: Config, *, days: int, seed: int, as_of: dt.date | None = None
) -> dict[str, int]:
    """Generate and COPY sample rows into core; refuses when any sample table holds rows."""
    tiers = resolve_tiers(cfg)
    with tiers["core"].connect() as core, tiers["main"].connect() as main:
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


def _schema_checks(cfg: Config, tier: PgTier) -> list[Check]:
    checks = []
    with tier.connect() as conn:
        if tier.name == "main":
            ok = table_exists(conn, "persys_ledger")
            checks.append(Check("main: persys_ledger", ok, "" if ok else "run `persys setup`"))
        names = list(dict.fromkeys([t.name for t in PERSONAL_TABLES] + list(cfg.tables)))
        for table in names:
            personal = any(t.name == table for t in PERSONAL_TABLES)
            if not table_exists(conn, table) and tier.name == "main" and not personal:
                checks.append(Check(f"main: {table}", True, "created from core's on first move"))
                continue
            if not table_exists(conn, table):
                hint = "run `persys setup`" if personal else "create it or drop it from persys.yaml"
                checks.append(Check(f"{tier.name}: {table}", False, f"missing; {hint}"))
                continue
            policy = cfg.tables.get(table)
            try:
                if policy is not None:
                    day_expression(conn, table, policy, cfg.timezone)
                checks.append(Check(f"{tier.name}: {table}", True))
            except TableError as exc:
                checks.append(Check(f"{tier.name}: {table}", False, str(exc)))
    return checks

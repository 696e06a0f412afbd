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
from collections.abc import Iterable, Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

from . import sample_data
from .archive.stores import ArchiveStores
from .config import TablePolicy
from .errors import PersysError
from .pg.catalog import table_columns, table_exists
from .pg.schema import (
    OUTPUT_TABLES,
    SAMPLE_TABLES,
    create_ledger,
    create_monitoring_tables,
    create_personal_tables,
)
from .pg.tiers import PgTier


def sample_tables_wanted(tables: Iterable[str], *, sample_data: bool) -> list[str]:
    """The sample tables setup may create: all with `--sample-data`, else those persys.yaml's
    `tables:` names (naming one is asking for it)."""
    named = set(tables)
    return [t for t in SAMPLE_TABLES if sample_data or t in named]


def setup_tiers(core_tier: PgTier, main_tier: PgTier, tables: Iterable[str], *,
                sample_data: bool = False) -> dict[str, list[str]]:
    """Create what the project needs, and the sample tables asked for (module docstring);
    returns tier → tables created. Idempotent; existing tables are left as they are.
    `tables`: persys.yaml's table names. The boundary (handles_setup.setup_tiers) then makes
    the home's backup key."""
    sample = sample_tables_wanted(tables, sample_data=sample_data)
    with core_tier.connect() as conn:
        core = create_personal_tables(conn, partitioned=True, only=[*sample, *OUTPUT_TABLES])
        _add_new_columns(conn)
    with main_tier.connect() as conn:
        in_main = [t for t in sample if t in core] + list(OUTPUT_TABLES)
        main = create_personal_tables(conn, only=in_main)
        _add_new_columns(conn)
        create_ledger(conn)
        create_monitoring_tables(conn)
    return {"core": core, "main": main}


def backup_key_note(keys_configured: bool, key_path: Path) -> str:
    """Where the key that encrypts backups is (`key_path`: the home's own, used when no
    tiers.archive.encryption_key is configured), and what the person must do about it."""
    if keys_configured:
        return "backups: encrypted with tiers.archive.encryption_key (keep a copy of it)"
    return (f"backups: encrypted with the key in {key_path}; keep a copy of that "
            "file somewhere else (a password manager): without it no backup can be read")


def mark_archive_stores(stores: ArchiveStores, main_tier: PgTier) -> list[str]:
    """Write the archive marker (lib/archive/marker.py) into each configured store (opened
    unchecked) that has none and holds nothing main's ledger knows of; one line per store
    saying what happened. A store that cannot be reached is reported, not fatal: setup's
    tables are done by then."""
    from .archive.marker import archived_into, has_marker, missing_marker_problem, write_marker

    lines = []
    with main_tier.connect() as main:
        for store in stores.all:
            role = stores.role(store)
            try:
                if has_marker(store):
                    lines.append(f"archive {role}: {store.url} (marker present)")
                elif archived := archived_into(main, store):
                    lines.append(f"archive {role}: NOT marked: "
                                 f"{missing_marker_problem(store, archived)}")
                else:
                    write_marker(store)
                    lines.append(f"archive {role}: {store.url} (marker written)")
            except PersysError as exc:
                lines.append(f"archive {role}: {store.url} not reachable, marker not written "
                             f"({exc}); `persys doctor` checks it again")
    return lines


def _add_new_columns(conn) -> None:
    """Columns our own tables gained after a home was set up (both tiers, so moves match)."""
    conn.execute("alter table persys.voice_messages add column if not exists signed_url text")
    # each metric's value and statistics (lib/insight), issue 22
    conn.execute("alter table persys.daily_summaries add column if not exists metrics jsonb "
                 "not null default '{}'")


def load_sample_data(core_tier: PgTier, main_tier: PgTier, tables: Mapping[str, TablePolicy],
                     timezone: str, *, days: int, seed: int, as_of: dt.date) -> dict[str, int]:
    """Generate and COPY sample rows into core; refuses when any sample table holds rows.
    `tables`, `timezone`: persys.yaml's, for the month partitions the days land in."""
    with core_tier.connect() as core, main_tier.connect() as main:
        _refuse_foreign_tables(core)
        occupied = sample_data.occupied_tables([core, main])
        if occupied:
            listed = ", ".join(f"{t} ({n} rows)" for t, n in sorted(occupied.items()))
            raise sample_data.SampleDataRefused(
                f"sample data goes only into empty tables, and these hold rows: {listed}. "
                "Use a fresh home (PERSYS_HOME=/some/new/folder) to try sample data."
            )
        rows = sample_data.generate(days, seed, as_of, ZoneInfo(timezone))
        ensure_partitions(core, tables, timezone, as_of - dt.timedelta(days=days + 1), as_of)
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


def ensure_partitions(core, tables: Mapping[str, TablePolicy], timezone: str, first: dt.date,
                      last: dt.date) -> None:
    """Month partitions for the sample days, so the rows land where moves can drop them."""
    from .calendar import months_between
    from .pg.partitions import ensure_months

    for table, policy in tables.items():
        if table_exists(core, table):
            ensure_months(core, table, policy, timezone, months_between(first, last))
    core.commit()

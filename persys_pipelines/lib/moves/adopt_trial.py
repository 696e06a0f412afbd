"""How long `adopt partition` will stop the app's writes and reads, measured before it runs.

The plan's lock times are not guessed: on a sample of the table's own rows, in a savepoint that
is rolled back, the conversion's per-row work is timed (the one-pass COPY into a frozen table,
the primary key, unique constraints and indexes, the two fingerprint passes), and so is a
catalog statement like those of the swap. Writes wait for the whole conversion (per-row time ×
rows, plus its statements); reads wait only for the swap's statements. Nothing is written to
the table; the sample's temporary table is gone when the savepoint rolls back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..pg import fingerprint
from ..pg.catalog import ident, stored_columns, table_columns
from .adopt_catalog import Catalog
from .relay import copy_split

TRIAL = "persys_adopt_trial"
TRIAL_ROWS = 5000
DDL_SAMPLES = 6


@dataclass(frozen=True)
class LockEstimate:
    writes_s: float  # EXCLUSIVE: the app's writes to the table wait this long
    reads_s: float  # ACCESS EXCLUSIVE, the swap's statements (its commit comes on top)
    sample_rows: int

    def line(self) -> str:
        return (f"  writes wait about {_seconds(self.writes_s)} (EXCLUSIVE lock: copy, "
                f"indexes, checks; measured on {self.sample_rows:,} of its rows); reads go "
                f"on, except during the swap: its catalog statements, about "
                f"{_seconds(self.reads_s)} in a trial, and its commit (which drops the old "
                "table); the result says how long it was")


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s >= 0.95 else f"{s * 1000:.0f} ms"


def measure(conn: psycopg.Connection, cat: Catalog, rows: int, months: int) -> LockEstimate:
    """The lock times of converting `cat.table` (module doc), in a savepoint rolled back."""
    columns = list(table_columns(conn, cat.table))
    stored = stored_columns(conn, cat.table)
    trial = sql.Identifier("pg_temp", TRIAL)
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("create temporary table {} (like {} including defaults "
                             "including generated)").format(sql.Identifier(TRIAL),
                                                            ident(cat.table)))
        start = time.monotonic()
        (sample,) = copy_split(conn, sql.SQL("select 0, {} from {} limit {}").format(
            sql.SQL(", ").join(map(sql.Identifier, stored)), ident(cat.table),
            sql.Literal(TRIAL_ROWS)), [trial], stored, freeze=True)
        conn.execute(sql.SQL("alter table {} add primary key ({})").format(
            trial, sql.SQL(", ").join(map(sql.Identifier, cat.new_key))))
        for n, (_, definition) in enumerate(cat.uniques):
            conn.execute(sql.SQL("alter table {} add constraint {} {}").format(
                trial, sql.Identifier(f"{TRIAL}_u{n}"), sql.SQL(definition)))
        on = f"pg_temp.{TRIAL}"
        for n, index in enumerate(cat.indexes):
            conn.execute(sql.SQL(index.on(on, f"{TRIAL}_i{n}")))
        for _ in range(2):
            fingerprint.of_table(conn, cat.table, columns, relation=trial,
                                 types=f"pg_temp.{TRIAL}")
        for key in cat.fks_out:  # the check PostgreSQL runs when the key is added
            conn.execute(_orphans(trial, key))
        per_row = (time.monotonic() - start) / max(sample, 1)
        ddl = _ddl_seconds(conn)
    swap = ddl * swap_statements(cat, months)
    setup = ddl * (6 + 4 * (months + 1))  # the new table and its partitions, their grants
    return LockEstimate(per_row * rows + setup + swap, swap, sample)


def _orphans(trial: sql.Composable, key) -> sql.Composable:
    """RI_Initial_Check's query: rows of the sample whose key is not in the referenced table."""
    ref = trial if key.self_reference else sql.SQL(key.ref_table)
    on = sql.SQL(" and ").join(sql.SQL("r.{} = f.{}").format(sql.Identifier(b), sql.Identifier(a))
                               for a, b in zip(key.columns, key.ref_columns, strict=True))
    return sql.SQL("select 1 from {} f left join {} r on {} where r.{} is null and {} "
                   "limit 1").format(trial, ref, on, sql.Identifier(key.ref_columns[0]),
                                     sql.SQL(" and ").join(
                                         sql.SQL("f.{} is not null").format(sql.Identifier(c))
                                         for c in key.columns))


def _ddl_seconds(conn: psycopg.Connection) -> float:
    """One catalog statement, as the swap's are (a rename, a comment, a check)."""
    start = time.monotonic()
    for n in range(DDL_SAMPLES // 2):
        conn.execute(sql.SQL("alter table pg_temp.{} rename to {}").format(
            sql.Identifier(TRIAL), sql.Identifier(f"{TRIAL}_{n}")))
        conn.execute(sql.SQL("alter table pg_temp.{} rename to {}").format(
            sql.Identifier(f"{TRIAL}_{n}"), sql.Identifier(TRIAL)))
    return (time.monotonic() - start) / DDL_SAMPLES


def swap_statements(cat: Catalog, months: int) -> int:
    """Roughly how many catalog statements the swap runs (adopt_swap._rename_and_rebuild):
    the lock, the renames and the drop, the temporary names, what is re-created, the check."""
    partitions = months + 1
    return (8 + 2 * len(cat.fks_in) + 1 + len(cat.uniques) + len(cat.indexes)
            + len(cat.identity) + len(cat.triggers) * (1 + partitions // 4)
            + 2 * len(cat.rules) + len(cat.policies) + len(cat.grants)
            + len(cat.publications) + (partitions if cat.replica_identity in ("f", "n") else 0))

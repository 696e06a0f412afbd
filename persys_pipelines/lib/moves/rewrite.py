"""Days written again (a summary or projection recomputed): they replace the day in the tier
that holds it, never add a second copy in another.

Holding the table's lock: the days of [first, last] that live in the archive are restored into
main (no pin), so every existing row of the range is in core or main; the new rows replace
the range in main (one main transaction, its ledger entry inside) for the days main holds,
and in core (one core transaction) for the rest (a day no tier held starts in core, like any
new row, and the lifecycle moves it by age); the months whose days came out of the archive
are archived again at once. Each step keeps every row in exactly one place, so a crash between
two leaves a valid state and running again finishes the job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..calendar import cutoff, month_start
from ..pg.catalog import ident, table_exists
from ..pg.tables import TableSpec
from ..pg.tiers import PgTier
from .archive_main import restore_locked
from .engine import Engine, Locked, route
from .main_archive import archive_months_locked
from .target import ArchiveTarget

REWRITE = route("rewrite", "daily", "tier", points=("restored", "main_written",
                                                    "core_written"))


@dataclass
class Rewritten:
    table: str
    written: dict[str, int] = field(default_factory=dict)  # tier → rows written
    replaced: dict[str, int] = field(default_factory=dict)  # tier → rows they replaced
    restored: int = 0  # rows brought out of the archive to be replaced
    archived_months: list[str] = field(default_factory=list)


def rewrite_days(engine: Engine, core: PgTier, targets: list[ArchiveTarget], spec: TableSpec,
                 first: dt.date, last: dt.date, columns: Sequence[str],
                 rows: Sequence[tuple], *, today: dt.date,
                 day_of: int = 0) -> Rewritten:
    """Replace days [first, last] of a daily table (day column `spec.policy.day_column`, a
    date) with `rows` (`columns`; the day at index `day_of`) wherever each day lives."""
    out = Rewritten(spec.name)
    with engine.locked(spec.name) as locked:
        if targets:
            out.restored = restore_locked(locked, targets, spec, first, last, None).rows
        REWRITE.crash("restored")
        in_main = _days(engine.main, spec, first, last)
        to_main = [r for r in rows if r[day_of] in in_main]
        to_core = [r for r in rows if r[day_of] not in in_main]
        _write(locked, engine.main, "main", spec, (first, last), columns, to_main, out)
        REWRITE.crash("main_written")
        _write(locked, core, "core", spec, (first, last), columns, to_core, out)
        REWRITE.crash("core_written")
        main_cut = cutoff(today, spec.policy.main_days)
        due = sorted({month_start(d) for d in in_main if main_cut and d < main_cut})
        if out.restored and due and targets:
            done = archive_months_locked(locked, targets[0], spec, due, today)
            out.archived_months = [f"{r.month:%Y-%m}" for r in done if r.rows]
    return out


def _days(tier: PgTier, spec: TableSpec, first: dt.date, last: dt.date) -> set[dt.date]:
    with tier.connect() as conn:
        if not table_exists(conn, spec.name):
            return set()
        return {r[0] for r in conn.execute(
            sql.SQL("select distinct {} from {} where {} between %s and %s").format(
                sql.Identifier(spec.policy.day_column), ident(spec.name),
                sql.Identifier(spec.policy.day_column)), (first, last)).fetchall()}


def _write(locked: Locked, tier: PgTier, name: str, spec: TableSpec,
           days: tuple[dt.date, dt.date], columns: Sequence[str], rows: Sequence[tuple],
           out: Rewritten) -> None:
    """In one transaction of `tier`: its rows of the days deleted, `rows` written, and (in
    main) the ledger entry; in core the entry commits right after."""
    with tier.connect() as conn:
        if not table_exists(conn, spec.name):
            return
        in_main = name == "main"
        step = locked.open(REWRITE, *days, conn=conn if in_main else None, tier=name)
        replaced = _replace(conn, spec, days, columns, rows)
        if in_main:
            step.done(conn=conn, rows=len(rows), replaced=replaced)
        conn.commit()
    if not in_main:
        step.done(rows=len(rows), replaced=replaced)
    out.written[name] = len(rows)
    out.replaced[name] = replaced


def _replace(conn: psycopg.Connection, spec: TableSpec, days: tuple[dt.date, dt.date],
             columns: Sequence[str], rows: Sequence[tuple]) -> int:
    rel = ident(spec.name)
    replaced = conn.execute(sql.SQL("delete from {} where {} between %s and %s").format(
        rel, sql.Identifier(spec.policy.day_column)), days).rowcount
    with conn.cursor() as cur, cur.copy(sql.SQL("copy {} ({}) from stdin").format(
            rel, sql.SQL(", ").join(map(sql.Identifier, columns)))) as copy:
        for row in rows:
            copy.write_row(row)
    return replaced

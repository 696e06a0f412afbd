"""`persys lifecycle repair`: what a crash or the app left between core and main, and the fix.

Two kinds of leftovers: ledger entries whose copy committed to main but was never settled
(the next move settles them anyway; repair does it now), and keys present in both core and
main with no such entry (a restore, a hand-made copy, an app that re-inserted a moved key).
While a row is in core, core is the truth: main's copy goes. A dry run only reports, naming
table, keys and both versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..config import Config
from ..pg import mirror
from ..pg.catalog import ident, table_exists
from ..pg.protocol import prepare_session, table_lock
from ..pg.tiers import PgTier
from . import moves, settle

CORE_KEYS = "persys_core_keys"
SHOWN = 5  # keys named per table in the report


@dataclass
class TableRepair:
    table: str
    unsettled: int = 0  # ledger entries left `copied`/`deleting`
    in_both: int = 0  # keys in core and in main outside any entry
    examples: list[tuple[str, str, str]] = field(default_factory=list)  # key, core, main
    fixed: bool = False


def repair(cfg: Config, core: PgTier, main: PgTier, tables: list[str], *,
           apply: bool = False) -> list[TableRepair]:
    """Report (and with `apply`, fix) every table's leftovers; see the module docstring."""
    out = []
    for table in tables:
        rng = moves.MoveRange(table, cfg.tables[table], cfg.timezone, None, None)
        found = TableRepair(table)
        with table_lock(main, table) as lock_conn, core.connect() as src, \
                main.connect() as dst:
            for conn in (src, dst):
                prepare_session(conn)
            if not (table_exists(src, table) and table_exists(dst, table)):
                out.append(found)
                continue
            found.unsettled = len(settle.unsettled(lock_conn, table))
            if apply and found.unsettled:
                moves.reconcile(src, dst, lock_conn, rng)
            _keys_in_both(src, dst, table, found)
            if apply and found.in_both:
                _drop_main_copies(dst, table)
            dst.commit()
            found.fixed = apply
        out.append(found)
    return out


def _keys_in_both(src: psycopg.Connection, dst: psycopg.Connection, table: str,
                  found: TableRepair) -> None:
    pk = mirror.table_shape(dst, table).primary_key
    cols = sql.SQL(", ").join(map(sql.Identifier, pk))
    dst.execute(sql.SQL(settle.KEYS_TABLE)
                .format(sql.Identifier(CORE_KEYS), cols, ident(table)))
    dst.execute(sql.SQL("truncate {}").format(sql.Identifier(CORE_KEYS)))
    with (src.cursor() as ca, dst.cursor() as cb,
          ca.copy(sql.SQL("copy (select {} from {}) to stdout (format binary)").format(
              cols, ident(table))) as data,
          cb.copy(sql.SQL("copy {} from stdin (format binary)").format(
              sql.Identifier(CORE_KEYS))) as into):
        for chunk in data:
            into.write(chunk)
    src.commit()
    both = sql.SQL("({}) in (select {} from {})").format(
        sql.SQL(", ").join(sql.SQL("m.{}").format(sql.Identifier(c)) for c in pk), cols,
        sql.Identifier(CORE_KEYS))
    found.in_both = dst.execute(sql.SQL("select count(*) from {} m where {}").format(
        ident(table), both)).fetchone()[0]
    keys = dst.execute(sql.SQL("select row({})::text, m::text from {} m where {} limit {}")
                       .format(cols, ident(table), both, sql.Literal(SHOWN))).fetchall()
    for key_text, main_row in keys:
        core_row = src.execute(sql.SQL("select t::text from {} t where row({})::text = %s")
                               .format(ident(table), cols), (key_text,)).fetchone()
        found.examples.append((key_text, core_row[0] if core_row else "(gone)", main_row))
    src.commit()


def _drop_main_copies(dst: psycopg.Connection, table: str) -> None:
    pk = mirror.table_shape(dst, table).primary_key
    cols = sql.SQL(", ").join(map(sql.Identifier, pk))
    dst.execute(sql.SQL("delete from {} m where ({}) in (select {} from {})").format(
        ident(table),
        sql.SQL(", ").join(sql.SQL("m.{}").format(sql.Identifier(c)) for c in pk), cols,
        sql.Identifier(CORE_KEYS)))

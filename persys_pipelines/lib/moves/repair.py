"""`persys lifecycle repair`: what a crash or the app left, route by route, and the fix.

From the ledger: core→main entries whose copy committed to main but was never settled (the
next move settles them anyway; repair does it now); import entries left `committing` between
core's commit and the ledger's (`import_rows.reconcile`, from core's transaction status);
archive files and manifests a killed
archive run, restore or purge left (`archive_repair`, `purge.reconcile`); entries left `open`
by a killed run of any route (marked interrupted). Beyond the ledger: keys present in both
core and main (a hand-made copy, an app that re-inserted a moved key): while a row is in
core, core is the truth, and main's copy goes. A dry run only reports, naming table, keys and
both versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..archive.maintenance import tables_in
from ..archive.manifest import ManifestUnreadable, read_manifest
from ..pg import mirror
from ..pg.catalog import ident, table_exists
from ..pg.session import pin_session
from ..pg.tables import TableSpec
from ..pg.tiers import PgTier
from . import archive_repair, core_main, import_rows, purge, settle
from .engine import ROUTES, Engine
from .target import ArchiveTarget

CORE_KEYS = "persys_core_keys"
SHOWN = 5  # keys named per table in the report


@dataclass
class TableRepair:
    table: str
    unsettled: int = 0  # entries left `half_copied`/`copied`/`deleting`, `committing` (import)
    in_both: int = 0  # keys in core and in main outside any entry
    examples: list[tuple[str, str, str]] = field(default_factory=list)  # key, core, main
    archive: list[str] = field(default_factory=list)  # what the archive's repair did or would
    interrupted: int = 0  # entries killed runs left open, now marked
    fixed: bool = False


def repair(engine: Engine, core: PgTier, targets: list[ArchiveTarget],
           specs: list[TableSpec], *, apply: bool = False) -> list[TableRepair]:
    """Report (and with `apply`, fix) every table's leftovers; see the module docstring."""
    out = []
    for spec in specs:
        rng = core_main.MoveRange(spec.name, spec.policy, spec.zone, None, None)
        found = TableRepair(spec.name)
        with engine.locked(spec.name) as locked, core.connect() as src, \
                engine.main.connect() as dst:
            for conn in (src, dst):
                pin_session(conn)
            found.unsettled = (len(locked.unfinished(core_main.CORE_MAIN))
                               + len(locked.unfinished(import_rows.IMPORT)))
            if apply:
                core_main.reconcile(locked, src, dst, rng)
                import_rows.reconcile(locked, core)
                for target in targets:
                    done = archive_repair.reconcile(locked, target, spec.name)
                    found.archive += [f"{target.store.url}: {done}"] if done else []
                    purge.reconcile(locked, target)
                found.interrupted = sum(locked.interrupt_open(r) for r in ROUTES.values())
            else:
                found.archive = [w for t in targets for w in _archive_report(t, spec.name)]
            if table_exists(src, spec.name) and table_exists(dst, spec.name):
                _keys_in_both(src, dst, spec.name, found)
                if apply and found.in_both:
                    _drop_main_copies(dst, spec.name)
                dst.commit()
            found.fixed = apply
        out.append(found)
    return out


def _archive_report(target: ArchiveTarget, table: str) -> list[str]:
    """What the archive's repair would do (read only)."""
    if table not in tables_in(target.store, [table]):
        return []
    pattern = archive_repair.file_pattern(table)
    present = {o.key for o in target.store.list(f"{table}/") if pattern.match(o.key)}
    try:
        manifest = read_manifest(target.store, table)
    except ManifestUnreadable as exc:
        return [f"{exc}"]
    notes = []
    if present and not manifest.files:
        notes.append(f"{target.store.url}: {table} has {len(present)} files but no manifest "
                     "entries: repair rebuilds it from the files and the ledger")
    if manifest.pending():
        notes.append(f"{target.store.url}: {len(manifest.pending())} pending entries of "
                     f"{table} from an interrupted run")
    unnamed = present - manifest.named()
    if unnamed and manifest.files:
        notes.append(f"{target.store.url}: {len(unnamed)} files of {table} no entry names")
    return notes


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

"""import → archive: an import's new rows of a month past main_days written straight into an
archive file, never into main's table.

The staged way (import_rows: insert them into main, then main→archive exports, writes and
deletes them) has PostgreSQL insert every such row into main's indexed table and delete it
again. Here, in ONE main transaction: the batch is staged and its keys looked up as any batch
(import_stage.py), the rows no tier holds go into a temporary table of the table's shape (its
defaults, generated columns and CHECK constraints), and from there into the file through
main→archive's own writer (`main_archive.write_file`, `commit_file`: Parquet, read-back,
digest, manifest entry pending → committed, a `main_archive` ledger entry holding the whole
entry), committed with this route's own ledger entry (`import`, to_tier `archive`, `done`).

Killed before that commit, a file already written is a pending entry whose ledger entry never
committed and whose rows main does not hold: the archive's repair keeps it and commits it (a
file is deleted only on proof its rows are elsewhere, archive_repair.py), and `deliver` runs
that repair before the first such batch, so none of its keys is written twice. After the
commit the month is archived like any other.

Only where the staged way would archive every new row of the month as inserted (`direct`):
no only_when policy (rows it keeps in main), no identity column, foreign key, trigger or rule
on main's table, no unique index but the key's (one on other columns would refuse in main what
a file would take; `catalog.writes_elsewhere`), no pinned day in the month (a restore keeps
those in main). Anything else, a row whose day in the zone falls outside the month, or a
value main→archive cannot keep exactly (it then keeps the month in main) goes the staged way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Sequence

import psycopg
from psycopg import sql

from ..archive import format as fmt
from ..archive import pins
from ..archive.manifest import read_manifest
from ..archive.marker import ensure_marker
from ..calendar import month_span
from ..errors import MoveError, PersysError
from ..lazy import lazy_module
from ..pg import fingerprint, ledger
from ..pg.catalog import ident, primary_key, table_columns, writes_elsewhere
from ..pg.session import pin_session, yielding
from ..pg.tables import TableSpec
from ..pg.tiers import PgTier
from . import main_archive
from .engine import Locked, Step
from .import_plan import ARCHIVE, Batch
from .import_stage import IMPORT, insert_new, other_keys, stage
from .target import ArchiveTarget

pc = lazy_module("pyarrow.compute")

NEW = "persys_import_new"
# two batches at once: one file made at a time (memory; and one manifest write at a time),
# while the other batch's SQL runs
_ONE_FILE = threading.Lock()


class NotDirect(PersysError):  # noqa: N818 - a signal to the caller, never raised past it
    """This batch goes the staged way (module doc: a row's day in the zone outside its month,
    a value main→archive cannot keep exactly)."""


def direct(conn: psycopg.Connection, spec: TableSpec, key: str, today: dt.date,
           months: Sequence[dt.date]) -> set[dt.date]:
    """The months (of `months`) whose archive-bound rows can go straight into a file (`key`:
    the import's key column)."""
    if not months or spec.policy.only_when or writes_elsewhere(conn, spec.name, key):
        return set()
    return unpinned(conn, spec, today, months)


def unpinned(conn: psycopg.Connection, spec: TableSpec, today: dt.date,
             months: Sequence[dt.date]) -> set[dt.date]:
    """The months (of `months`) with no day a restore pinned in main."""
    held = pins.active_pins(conn, today, spec.name)
    return {m for m in months if not pins.holds(held, spec.name, m.isoformat(),
                                                month_span(m)[1].isoformat(), today)}


def settle_kept(locked: Locked, target: ArchiveTarget, table: str) -> int:
    """Entries of killed imports whose file the archive's repair kept (module doc): `done`,
    with the file's rows, so the import's record counts them. Call after that repair."""
    entries = ledger.ended_naming(locked.conn, IMPORT.name, table, "file_key")
    if not entries:
        return 0
    committed = {e.key: e for e in read_manifest(target.store, table).committed()}
    kept = [(e, committed[e.detail["file_key"]]) for e in entries
            if e.detail["file_key"] in committed]
    for entry, file in kept:
        locked.step(IMPORT, entry).done(rows=file.rows, fingerprint=file.fingerprint,
                                        written=file.rows, kept_by_repair=True)
    return len(kept)


def deliver(locked: Locked, main: PgTier, core: PgTier, archives: Sequence[ArchiveTarget],
            target: ArchiveTarget, spec: TableSpec, batch: Batch, *,
            skip: frozenset[str] = frozenset(), **detail: object
            ) -> tuple[int, int, int, str | None]:
    """One archive-bound batch straight into a file (module doc): (written, present,
    repeated, the file's key; "" when no row was new; `skip`: archive files not read for
    keys, import_rows._OwnFiles). Raises NotDirect, having written nothing, when the batch
    must go the staged way."""
    first, last = month_span(batch.month)
    step = locked.open(dataclasses.replace(IMPORT, to_tier=ARCHIVE), first, last,
                       bound_for=ARCHIVE, **detail)
    try:
        with main.connect() as conn:
            pin_session(conn)
            return yielding(f"import into the archive {batch.table} {batch.month:%Y-%m}",
                            lambda: _write(conn, locked, step, core, main, archives, target,
                                           spec, batch, skip))
    except NotDirect as exc:
        step.done(rows=0, staged_way=str(exc))  # the rows go in the staged way's own entry
        raise
    except BaseException as exc:
        step.failed(exc)
        raise


def _write(conn: psycopg.Connection, locked: Locked, step: Step, core: PgTier, main: PgTier,
           archives: Sequence[ArchiveTarget], target: ArchiveTarget, spec: TableSpec,
           batch: Batch, skip: frozenset[str]) -> tuple[int, int, int, str | None]:
    first, last = month_span(batch.month)
    try:
        conn.execute("select set_config('work_mem', '64MB', true)")  # sorts a batch in memory
        staged = stage(conn, batch)
        other_keys(conn, core, main, archives, spec, batch, skip)
        conn.execute(sql.SQL(
            "create temporary table {} (like {} including defaults including generated "
            "including constraints) on commit drop").format(sql.Identifier(NEW),
                                                            ident(spec.name)))
        distinct, inserted = insert_new(conn, spec, batch, into=sql.Identifier(NEW))
        detail = {"written": inserted, "present": distinct - inserted,
                  "repeated": staged - distinct}
        if not inserted:
            step.done(conn=conn, rows=0, **detail)
            conn.commit()
            return 0, distinct, staged - distinct, ""
        with _ONE_FILE:  # one month's Arrow, Parquet and read-back in memory at a time
            pg_types = table_columns(conn, spec.name)
            pkey = primary_key(conn, spec.name)
            try:
                data = main_archive.export_from(conn, spec, sql.SQL("{} where true").format(
                    sql.Identifier(NEW)), pg_types, pkey)
            except fmt.ArchiveFormatError as exc:  # main→archive refuses it: kept in main
                raise NotDirect(str(exc)) from None
            days = data.column(fmt.day_of(data.schema))
            span = pc.min_max(days).as_py()
            if days.null_count or span["min"] < first or span["max"] > last:
                raise NotDirect(f"{spec.name} {first:%Y-%m}: a row's day in {spec.zone} is "
                                "outside the month")
            found = fingerprint.of_table(conn, spec.name, list(pg_types),
                                         relation=sql.Identifier(NEW))
            if not data.num_rows == found.rows == inserted:
                raise MoveError(f"{spec.name} {first:%Y-%m}: inserted {inserted} new rows, "
                                f"exported {data.num_rows}, counted {found.rows}; nothing written")
            exported = main_archive.Exported(first, last, conn, data, pg_types, pkey, None, found)
            step.crash("before_archive")
            ensure_marker(target.store, conn)  # an unmounted share is not an empty archive
            written = main_archive.write_file(  # the key committed first: `settle_kept`
                target, spec.name, exported, lambda key: step.note(file_key=key))
            step.done(conn=conn, rows=inserted, fingerprint=found.text, key=written.key, **detail)
            step.crash("before_commit")
            main_archive.commit_file(locked, target, spec, exported, written, None)
            step.crash("after_commit")
    except BaseException:
        conn.rollback()
        raise
    return inserted, distinct - inserted, staged - distinct, written.key

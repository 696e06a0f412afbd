"""main→archive: a month of a table leaves main as one immutable, verified Parquet file.

Archiving month M of table t (`archive_months`), holding the table's lock:
  1. reconcile: finish what a killed run left (`archive_repair.reconcile`);
  2. one REPEATABLE READ transaction on main: COPY M's due rows out into Arrow
     (archive/format.py), sorted by day, while a second connection sharing the snapshot takes
     their fingerprint (a restore proves the same fingerprint);
  3. Parquet zstd → sha256 → key `t/yyyy/mm/<sha256>.parquet` → (AES-256-GCM) → store.put;
  4. read back: get → decrypt → sha256 → rows equal to what was exported;
  5. in the SAME transaction as step 2: DELETE exactly those rows (count must match), and keep
     the file's digest (archive/digest.py: what remains of its days once retention deletes it);
  6. the manifest gets the entry as `pending` (after the file); the ledger entry, opened and
     finished in that same transaction, keeps the whole entry; COMMIT; then the manifest
     entry becomes `committed`.
A crash anywhere leaves either the rows in main (the file is then deleted on proof that its
rows are in main) or the rows in the file with a `done` ledger entry naming it (the manifest
entry is then committed, or rebuilt from the ledger). Readers only use committed entries.

Several months of a table go under one lock and each month in its own transaction; steps 3-4
of month k (on a worker thread, no connection) run while step 2 of month k+1 does, and months
commit in order (overlap.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..archive import digest, pins
from ..archive import format as fmt
from ..archive.manifest import (
    PENDING,
    FileEntry,
    file_key,
    now_text,
    read_manifest,
    sha256,
    write_manifest,
)
from ..archive.marker import ensure_marker
from ..calendar import cutoff as policy_cutoff
from ..calendar import month_span
from ..errors import ArchiveError
from ..lazy import lazy_module
from ..pg import fingerprint
from ..pg.catalog import ident, primary_key, table_columns, table_exists
from ..pg.session import in_snapshot
from ..pg.tables import TableSpec, day_expression, only_when_condition, placeable
from ..pg.tiers import PgTier
from .archive_repair import Reconciled, reconcile
from .core_main import CORE_MAIN
from .engine import Engine, Locked, route
from .overlap import overlapped
from .target import ArchiveTarget

pa = lazy_module("pyarrow")
pc = lazy_module("pyarrow.compute")

log = logging.getLogger(__name__)
MAIN_ARCHIVE = route("main_archive", "main", "archive", points=(
    "before_put", "after_put", "after_manifest", "before_commit", "after_commit"))


@dataclass(frozen=True)
class MonthResult:
    table: str
    month: dt.date
    rows: int
    key: str | None = None
    bytes: int = 0
    store: str | None = None
    key_id: str | None = None
    fingerprint: str | None = None
    reconciled: Reconciled | None = None
    refused: str | None = None  # why the month stays in main (a value it cannot keep exactly)


# --- What is due (asked from the data) ---------------------------------------------------

def due_cutoff(spec: TableSpec, as_of: dt.date) -> dt.date | None:
    """Days before this date belong in the archive (None: the table stays in main forever)."""
    return policy_cutoff(as_of, spec.policy.main_days)


def due_month_rows(main: PgTier, spec: TableSpec, as_of: dt.date) -> dict[dt.date, int]:
    """Months (first days) whose every day is older than main_days and that still have rows in
    main → how many: asked from the data, so late rows for an archived month make it due
    again; days a restore pinned (archive/pins.py) are not counted."""
    cut = due_cutoff(spec, as_of)
    if cut is None:
        return {}
    with main.connect() as conn:
        if not table_exists(conn, spec.name):
            return {}
        day = day_expression(conn, spec.name, spec.policy, spec.zone)
        rows = conn.execute(
            sql.SQL("select date_trunc('month', {day})::date, count(*) from {t} "
                    "where {day} < {cut} and {placed} and {cond} and {unpinned} "
                    "group by 1 order by 1").format(
                day=day, t=ident(spec.name), cut=sql.Literal(cut), placed=placeable(day),
                cond=only_when_condition(spec.policy),
                unpinned=pins.unpinned_condition(conn, spec.name, day, as_of))
        ).fetchall()
    return {m: n for m, n in rows if month_span(m)[1] < cut}


def due_after_moves(main: PgTier, spec: TableSpec, as_of: dt.date,
                    incoming: dict[dt.date, int]) -> dict[dt.date, int]:
    """`due_month_rows` as it will be once `incoming` (day → rows the core→main run is about
    to move) is in main: what a dry run shows, so its plan is the run's."""
    due = due_month_rows(main, spec, as_of)
    cut = due_cutoff(spec, as_of)
    if cut is None or not incoming:
        return due
    with main.connect() as conn:
        held = pins.active_pins(conn, as_of, spec.name)
    for day, rows in incoming.items():
        month = month_span(day.replace(day=1))
        if month[1] < cut and not any(p.first_day <= day <= p.last_day for p in held):
            due[month[0]] = due.get(month[0], 0) + rows
    return dict(sorted(due.items()))


def due_months(main: PgTier, spec: TableSpec, as_of: dt.date) -> list[dt.date]:
    return list(due_month_rows(main, spec, as_of))


def month_generations(main: PgTier, table: str) -> dict[dt.date, int]:
    """Month → how many times rows of it went main→archive (the ledger's `done` entries)."""
    with main.connect() as conn:
        if not table_exists(conn, "persys.ledger"):
            return {}
        rows = conn.execute(
            "select date_trunc('month', first_day)::date, count(*) from persys.ledger "
            "where route = 'main_archive' and table_name = %s and state = 'done' "
            "and rows > 0 group by 1", (table,)).fetchall()
    return dict(rows)


def month_run_key(table: str, month: dt.date, rows: int, generation: int) -> str:
    """Changes when the month's data does: late rows after an archive run (a new ledger
    generation, or a different row count) make a new key, so the sensor asks again."""
    return f"archive/{table}/{month:%Y-%m}/g{generation}-r{rows}"


# --- The route ---------------------------------------------------------------------------


def archive_months(engine: Engine, target: ArchiveTarget, spec: TableSpec,
                   months: list[dt.date], as_of: dt.date) -> list[MonthResult]:
    """Each of `months` of one table, in order, under one table lock (module doc), each in its
    own transaction, month k's file written while month k+1 is exported (overlap.py)."""
    if not _spans(spec, months, as_of):
        return [MonthResult(spec.name, month_span(m)[0], 0) for m in months]
    with engine.locked(spec.name) as locked:
        return archive_months_locked(locked, target, spec, months, as_of)


def archive_months_locked(locked: Locked, target: ArchiveTarget, spec: TableSpec,
                          months: list[dt.date], as_of: dt.date) -> list[MonthResult]:
    """`archive_months` for a caller that holds the table's lock (another route's step)."""
    results = {month_span(m)[0]: MonthResult(spec.name, month_span(m)[0], 0) for m in months}
    spans = _spans(spec, months, as_of)
    if spans:  # not the months of a copy core may still replace (Locked.clear_of)
        repaired = reconcile(locked, target, spec.name)
        spans = locked.clear_of(CORE_MAIN, spans)
        results |= _archive_locked(locked, target, spec, spans, as_of, repaired)
    return [results[month_span(m)[0]] for m in months]


def _spans(spec: TableSpec, months: list[dt.date], as_of: dt.date
           ) -> list[tuple[dt.date, dt.date]]:
    """Each month's days that are due as of `as_of` (a month partly due gives its due part)."""
    cut = due_cutoff(spec, as_of)
    spans = []
    for first in dict.fromkeys(month_span(m)[0] for m in months):
        last = month_span(first)[1]
        if cut is not None and min(last, cut - dt.timedelta(days=1)) >= first:
            spans.append((first, min(last, cut - dt.timedelta(days=1))))
    return spans


def settle(engine: Engine, target: ArchiveTarget, table: str) -> Reconciled:
    """Repair what a killed run left for a table with nothing due (a restore killed after its
    commit leaves pinned days, not due: its manifest swap must not wait for a due month)."""
    with engine.locked(table) as locked:
        return reconcile(locked, target, table)


def archive_due(engine: Engine, target: ArchiveTarget, specs: list[TableSpec],
                as_of: dt.date) -> list[MonthResult]:
    """Every due month of every table (what `persys lifecycle run` does for main→archive)."""
    results = []
    for spec in specs:
        months = due_months(engine.main, spec, as_of)
        if not months:
            settle(engine, target, spec.name)
        results += archive_months(engine, target, spec, months, as_of)
    return results


@dataclass
class Exported:
    """One month's rows, exported in a REPEATABLE READ transaction open until they are
    deleted (one snapshot for export, fingerprint and delete)."""

    first: dt.date
    last: dt.date
    conn: psycopg.Connection
    data: pa.Table
    pg_types: dict[str, str]
    pkey: list[str]
    where: sql.Composable | None  # main's rows; None: rows staged by an import
    fingerprint: fingerprint.Fingerprint


@dataclass(frozen=True)
class Written:
    key: str
    digest: str
    size: int
    key_id: str | None
    days: dict  # the file's digest (archive/digest.py), day → digest


def _archive_locked(locked: Locked, target: ArchiveTarget, spec: TableSpec,
                    spans: list[tuple[dt.date, dt.date]], as_of: dt.date,
                    repaired: Reconciled) -> dict[dt.date, MonthResult]:
    main = locked.engine.main
    out = {first: MonthResult(spec.name, first, 0, reconciled=repaired) for first, _ in spans}
    with contextlib.ExitStack() as open_months:  # a month not committed is rolled back

        def export(span: tuple[dt.date, dt.date]) -> Exported | None:
            conn = main.connect()
            open_months.callback(conn.close)
            try:
                exported = _export(main, conn, spec, *span, as_of)
            except fmt.ArchiveFormatError as exc:  # this month stays; the others go on
                log.error("archive %s %s refused: %s", spec.name, f"{span[0]:%Y-%m}", exc)
                out[span[0]] = MonthResult(spec.name, span[0], 0, reconciled=repaired,
                                           refused=str(exc))
                exported = None
            if exported is None:
                conn.close()
                return None
            ensure_marker(target.store, conn)  # an unmounted share is not an empty archive
            return exported

        def commit(exported: Exported, written: Written) -> None:
            out[exported.first] = commit_file(locked, target, spec, exported, written, repaired)
            exported.conn.close()

        overlapped(spans, export, lambda e: write_file(target, spec.name, e), commit)
    return out


def _export(main: PgTier, conn: psycopg.Connection, spec: TableSpec, first: dt.date,
            last: dt.date, as_of: dt.date) -> Exported | None:
    """Step 2 of the module doc: the month's rows and, alongside, their fingerprint in the
    same snapshot (None: no table, or no rows due)."""
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    if not table_exists(conn, spec.name):
        return None
    pg_types = table_columns(conn, spec.name)
    pkey = primary_key(conn, spec.name)
    where = month_condition(conn, spec, first, last, as_of)
    with ThreadPoolExecutor(1, thread_name_prefix="persys-archive-checksum") as pool:
        counted = fingerprint_alongside(main, conn, pool, spec.name, list(pg_types), where)
        data = export_rows(conn, spec, first, last, pg_types, pkey, as_of=as_of)
        found = counted.result()
    if data.num_rows != found.rows:
        raise ArchiveError(f"{spec.name} {first:%Y-%m}: exported {data.num_rows} rows, counted "
                           f"{found.rows} in the same snapshot; nothing deleted")
    if data.num_rows == 0:
        return None
    return Exported(first, last, conn, data, pg_types, pkey, where, found)


def write_file(target: ArchiveTarget, table: str, exported: Exported,
               before_put: Callable[[str], None] | None = None) -> Written:
    """Steps 3 and 4 (on the worker thread): Parquet, sha256, key (told to `before_put`),
    encryption, the store's write, the read-back; the rows' digest (kept in main at the
    commit). Touches no connection."""
    plain = fmt.parquet_bytes(exported.data, level=target.level)
    key = file_key(table, exported.first, sha := sha256(plain))
    stored, key_id = target.ring.encrypt(plain, key)
    if before_put is not None:
        before_put(key)
    MAIN_ARCHIVE.crash("before_put")
    target.store.put(key, stored)
    MAIN_ARCHIVE.crash("after_put")
    _read_back(target, key, sha, exported.data)
    return Written(key, sha, len(stored), key_id, digest.of_file(exported.data))


def commit_file(locked: Locked, target: ArchiveTarget, spec: TableSpec, exported: Exported,
                written: Written, repaired: Reconciled | None) -> MonthResult:
    """Steps 5 and 6: delete exactly the exported rows (same snapshot; rows an import staged
    in a temporary table, `where` None, are in no table), the pending manifest entry, the
    ledger entry (with the whole manifest entry), COMMIT, then the entry becomes committed."""
    conn, first, data, rows = exported.conn, exported.first, exported.data, exported.data.num_rows
    deleted = rows if exported.where is None else conn.execute(sql.SQL(
        "delete from {} where {}").format(ident(spec.name), exported.where)).rowcount
    if deleted != rows:
        raise ArchiveError(f"{spec.name} {first:%Y-%m}: would delete {deleted} rows from main "
                           f"but archived {rows}; nothing deleted, run again")
    step = locked.open(MAIN_ARCHIVE, first, exported.last, conn=conn)
    digest.store(conn, spec.name, written.key, written.days)  # commits with the rows
    entry = FileEntry(
        key=written.key, month=f"{first:%Y-%m}", sha256=written.digest, rows=rows,
        bytes=written.size, min_day=_day(data, pc.min), max_day=_day(data, pc.max),
        schema=list(exported.pg_types.items()), primary_key=exported.pkey,
        fingerprint=exported.fingerprint.text, key_id=written.key_id, created=now_text(),
        ledger_id=step.id, state=PENDING, zone=spec.zone)
    manifest = read_manifest(target.store, spec.name)
    manifest.put(entry)
    write_manifest(target.store, manifest)
    step.crash("after_manifest")
    step.done(conn=conn, rows=rows, bytes_=written.size, fingerprint=entry.fingerprint,
              key=written.key, store=target.store.url, key_id=written.key_id,
              entry=entry.committed().to_json())
    step.crash("before_commit")
    conn.commit()
    step.crash("after_commit")
    manifest.put(entry.committed())
    write_manifest(target.store, manifest)
    return MonthResult(spec.name, first, rows, written.key, written.size, target.store.url,
                       written.key_id, entry.fingerprint, repaired)


def month_condition(conn: psycopg.Connection, spec: TableSpec, first: dt.date, last: dt.date,
                    as_of: dt.date | None = None) -> sql.Composable:
    """The rows of [first, last] the archive takes: dated in the range, matching only_when,
    and (given `as_of`, as every archive run does) on no day a restore pinned in main."""
    day = day_expression(conn, spec.name, spec.policy, spec.zone)
    unpinned = sql.SQL("true") if as_of is None else pins.unpinned_condition(conn, spec.name,
                                                                              day, as_of)
    return sql.SQL("{day} between {a} and {b} and {cond} and {unpinned}").format(
        day=day, a=sql.Literal(first), b=sql.Literal(last),
        cond=only_when_condition(spec.policy), unpinned=unpinned)


def export_rows(conn: psycopg.Connection, spec: TableSpec, first: dt.date, last: dt.date,
                pg_types: dict[str, str] | None = None, pkey: list[str] | None = None, *,
                as_of: dt.date | None = None) -> pa.Table:
    """The archived rows of [first, last] as typed Arrow, sorted by day, day column and key
    (so the same rows always give the same file and key); pinned days left out given `as_of`."""
    rows = sql.SQL("{t} where {w}").format(
        t=ident(spec.name), w=month_condition(conn, spec, first, last, as_of))
    return export_from(conn, spec, rows, pg_types, pkey)


def export_from(conn: psycopg.Connection, spec: TableSpec, rows: sql.Composable,
                pg_types: dict[str, str] | None = None, pkey: list[str] | None = None
                ) -> pa.Table:
    """`export_rows` of `rows` (`<relation> where <condition>`, the table's columns)."""
    pg_types = pg_types or table_columns(conn, spec.name)
    pkey = primary_key(conn, spec.name) if pkey is None else pkey
    data = fmt.export_arrow(conn, spec.name, pg_types, rows=rows, key=pkey,
                            day=day_expression(conn, spec.name, spec.policy, spec.zone))
    # a date day column equals the day field: sorting by it again would change nothing
    finer = [] if pg_types.get(spec.policy.day_column) == "date" else [spec.policy.day_column]
    return fmt.sort_rows(data, [fmt.day_of(data.schema), *dict.fromkeys((*finer, *pkey))])


def fingerprint_alongside(main: PgTier, conn: psycopg.Connection, pool: ThreadPoolExecutor,
                          table: str, columns: list[str], where: sql.Composable
                          ) -> Future[fingerprint.Fingerprint]:
    """The rows' fingerprint on a second connection that shares `conn`'s snapshot (a
    REPEATABLE READ transaction), so PostgreSQL hashes them while `conn` exports them."""
    snapshot = conn.execute("select pg_export_snapshot()").fetchone()[0]

    def work() -> fingerprint.Fingerprint:
        with main.connect() as other:
            in_snapshot(other, snapshot)
            return fingerprint.of_table(other, table, columns, where)

    return pool.submit(work)


def _read_back(target: ArchiveTarget, key: str, digest: str, data: pa.Table) -> None:
    plain, _ = target.ring.decrypt(target.store.get(key), key)
    if sha256(plain) != digest:
        raise ArchiveError(f"{target.store.uri(key)}: read back with a different sha256; the "
                           "store altered the file; nothing was deleted from main")
    back = fmt.read_parquet(plain)
    if not fmt.same_rows(back, data):
        raise ArchiveError(f"{target.store.uri(key)}: read back rows differ from the exported "
                           "rows; nothing was deleted from main")


def _day(data: pa.Table, fn) -> str:
    return fn(data.column(fmt.day_of(data.schema))).as_py().isoformat()

"""import: rows read from an exported file, written into the tier each of their days belongs in.

    delivered = deliver(handles, batches, source=ImportSource(sha256, kind, name))

`tier_of(policy, today, day)` (import_plan.py) is the routing rule, the lifecycle's own:
days within `core_days` → core; older → main; days of a month wholly older than `main_days`
→ archive (the month main→archive would take now); older than `delete_days` → nowhere
(retention would delete them; the caller reports them as dropped).

A `Batch` is the file's rows of one month bound for one tier, as a file of COPY text rows
(key column first; lib/imports/spool.py makes them once the whole file was read). Each batch
is one step of this route, under the table's lock (`Engine.locked`, shared with every other
route), in ONE transaction of its tier:
  1. a ledger entry (`open`, committed at once);
  2. COPY the file into a temporary table (no Python work per row);
  3. the keys the other tiers hold for those days (`MARGIN` either side: core or main, and
     every archive file whose days meet them) into a second temporary table;
  4. `INSERT … SELECT DISTINCT ON (key) … WHERE the key is in neither` nor in the table
     itself (on those days only when the key holds its day, `Batch.key_has_day`), then the one
     fingerprint (`pg/fingerprint.of_table`) of exactly the rows this transaction wrote
     (the month's rows whose `xmin` is its transaction id);
  5. main: the entry becomes `done` in the same transaction, which commits. Core (the ledger
     lives in main): the entry becomes `committing` with core's transaction id, rows and
     fingerprint, core commits, the entry becomes `done`. A kill between the two commits is
     told apart by the next run from `pg_xact_status` (`reconcile`), as core→main does.
Batches whose keys hold their days go through two workers, each on its own connection, the
next batch starting as soon as one ends, `WINDOW` batches per hold of the table's lock
(`_deliver_window`); the archive files such a delivery wrote are not read again for keys
(`_OwnFiles`). Archive-bound batches go straight into an archive file where the table
allows it (import_archive.py: the same steps into a temporary table, then main→archive's
writer, never main's table). Elsewhere they go to main by the same steps, and once
`ARCHIVE_EVERY` months or more are staged (after a window, and at the end) those months go
through `main_archive.archive_months`. Either way their files, manifest, read-back, fingerprints and
ledger entries are exactly those of any archived month.

The route is declared from `file` to `tier`; each entry names the tier its batch went to
(`core` or `main`) and, in its detail, the file's sha256 and where the rows were bound for.

Killed anywhere: an uncommitted batch leaves nothing (its entry stays `open`: interrupted);
a committed one is complete; rows staged in main and not yet archived are rows in main (the
next import or lifecycle run archives them). Importing the file again writes exactly what is
missing: a key held by core, main or the archive is never written again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import psycopg

from ..calendar import month_span
from ..errors import MoveError
from ..pg import mirror
from ..pg.catalog import table_exists
from ..pg.session import pin_session, yielding
from ..pg.tables import TableSpec
from ..pg.tiers import PgTier
from . import archive_repair, import_archive, main_archive
from .engine import Engine, Locked, Step
from .import_plan import ARCHIVE, CORE, MAIN, Batch
from .import_stage import COMMITTING, IMPORT, insert_new, other_keys, stage
from .import_stage import written as written_rows
from .settle import core_transaction_status
from .target import ArchiveTarget

ARCHIVE_EVERY = 6  # archive-bound months staged in main before they are archived
AT_ONCE = 2  # batches written at the same time (_deliver_window)
WINDOW = 8  # batches per hold of the table's lock (_windows)


@dataclass(frozen=True)
class ImportHandles:
    """What an import touches (persys_pipelines/handles.py makes it from the config)."""

    engine: Engine  # main, run id, progress
    core: PgTier
    spec: TableSpec  # the table the import writes, its policy and zone
    archive: ArchiveTarget  # where new archive files go
    archives: Sequence[ArchiveTarget]  # every store whose files may hold the keys
    today: dt.date

    @property
    def main(self) -> PgTier:
        return self.engine.main


@dataclass(frozen=True)
class ImportSource:
    sha256: str
    kind: str
    name: str


@dataclass
class Delivered:
    """Per table and tier: rows written, rows whose key a tier already held, repeats."""

    new: dict[tuple[str, str], int] = field(default_factory=dict)
    present: dict[tuple[str, str], int] = field(default_factory=dict)
    repeated: dict[str, int] = field(default_factory=dict)
    archived: dict[str, list[str]] = field(default_factory=dict)  # table → archive keys
    repaired: int = 0  # entries a killed import left, settled first

    def add(self, table: str, tier: str, new: int, present: int, repeated: int) -> None:
        self.new[(table, tier)] = self.new.get((table, tier), 0) + new
        self.present[(table, tier)] = self.present.get((table, tier), 0) + present
        self.repeated[table] = self.repeated.get(table, 0) + repeated


def deliver(handles: ImportHandles, batches: Iterable[Batch], *,
            source: ImportSource) -> Delivered:
    """Write every batch into its tier (module docstring); idempotent by key across tiers."""
    out = Delivered()
    spec = handles.spec
    todo = sorted(batches, key=lambda b: (b.tier != ARCHIVE, b.month, b.tier))
    if any(b.table != spec.name for b in todo):
        raise MoveError(f"an import into {spec.name} was handed batches of another table")
    _ensure_main_table(handles)
    with handles.engine.locked(spec.name) as locked:
        out.repaired = reconcile(locked, handles.core)
        with handles.main.connect() as conn:
            archived = [b for b in todo if b.tier == ARCHIVE]
            direct = import_archive.direct(conn, spec, archived[0].columns[0] if archived
                                           else "", handles.today, [b.month for b in archived])
        if direct:  # a file a killed import left is kept before any key is looked up
            archive_repair.reconcile(locked, handles.archive, spec.name)
        out.repaired += import_archive.settle_kept(locked, handles.archive, spec.name)
    staged: list[dt.date] = []
    own = _OwnFiles(all(b.key_has_day for b in todo))
    for window in _windows(todo):
        with handles.engine.locked(spec.name) as locked:
            results = _deliver_window(locked, handles, window, source, direct, own)
        for batch, (counts, key) in zip(window, results, strict=True):
            out.add(batch.table, batch.tier, *counts)
            if key:
                out.archived.setdefault(spec.name, []).append(key)
            if handles.engine.progress:
                handles.engine.progress(batch.rows)
            if batch.tier == ARCHIVE and key is None:  # went the staged way: in main
                staged.append(batch.month)
        if len(staged) >= ARCHIVE_EVERY:
            _archive(handles, staged, out)
            staged = []
    if staged:
        _archive(handles, staged, out)
    return out


def _windows(todo: list[Batch]) -> Iterator[list[Batch]]:
    """`WINDOW` batches per hold of the table's lock (other routes of the table get their
    turn between windows)."""
    for k in range(0, len(todo), WINDOW):
        yield todo[k:k + WINDOW]


class _OwnFiles:
    """The archive files this delivery wrote, which no later batch needs to read for keys
    when every key holds its day (`Batch.key_has_day`): their keys are other batches' days,
    and within one file's import a key has one day. Batches whose keys do not hold their day
    read every file."""

    def __init__(self, keys_hold_days: bool):
        self.on = keys_hold_days
        self.keys: set[str] = set()

    def add(self, key: str | None) -> None:
        if self.on and key:
            self.keys.add(key)  # one set.add: atomic under the GIL, for the window's threads

    def skip(self) -> frozenset[str]:
        return frozenset(self.keys)


def _deliver_window(locked: Locked, handles: ImportHandles, window: list[Batch],
                    source: ImportSource, direct: set[dt.date], own: _OwnFiles
                    ) -> list[tuple[tuple[int, int, int], str | None]]:
    """The window's batches, `AT_ONCE` at a time when their keys hold their days (a key is
    then in one batch only, so no batch needs to see another's rows to know a key is taken),
    each on its own connection in its own transaction, a new one starting as soon as one ends
    (the server inserts one batch while it checks another's keys); one at a time otherwise
    (an OFX FITID on two days near a month's end: the later batch must see the earlier one's
    row committed). After a failure no batch starts; every running one is finished
    (committed or rolled back) before the first error is raised. Each gives (written,
    present, repeated) and, for a batch written straight into the archive
    (import_archive.py), its file's key ("" when no row was new); None for a batch written
    into a tier."""
    failed = threading.Event()

    def one(batch: Batch) -> tuple[tuple[int, int, int], str | None] | None:
        if failed.is_set():
            return None
        try:
            result = _deliver_one(locked, handles, batch, source, direct, own.skip())
        except BaseException:
            failed.set()
            raise
        own.add(result[1])
        return result

    if not own.on:
        return [_deliver_one(locked, handles, b, source, direct, own.skip()) for b in window]
    with ThreadPoolExecutor(AT_ONCE, thread_name_prefix="persys-import") as pool:
        futures = [pool.submit(one, b) for b in window]
        wait(futures)
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        raise errors[0]
    return [f.result() for f in futures]  # type: ignore[misc]


def _deliver_one(locked: Locked, handles: ImportHandles, batch: Batch, source: ImportSource,
                 direct: set[dt.date], skip: frozenset[str]
                 ) -> tuple[tuple[int, int, int], str | None]:
    """One batch; an archive-bound one straight into a file when its month allows it (its
    pins asked again here, under the lock a restore pinning days takes too; the table's shape,
    which only a schema change alters, was asked once before the first batch). `skip`: archive
    files not to read for keys (`_OwnFiles`)."""
    if batch.tier == ARCHIVE and batch.month in direct and _still_direct(handles, batch):
        try:
            *counts, key = import_archive.deliver(
                locked, handles.main, handles.core, handles.archives, handles.archive,
                handles.spec, batch, skip=skip, sha256=source.sha256, kind=source.kind,
                file=source.name)
            return (counts[0], counts[1], counts[2]), key
        except import_archive.NotDirect:
            pass  # the staged way, below
    return _deliver_batch(locked, handles, batch, source, skip), None


def _still_direct(handles: ImportHandles, batch: Batch) -> bool:
    with handles.main.connect() as conn:
        return bool(import_archive.unpinned(conn, handles.spec, handles.today, [batch.month]))


def reconcile(locked: Locked, core: PgTier) -> int:
    """Close what killed imports of the table left (call holding its lock): an entry left
    `committing` is `done` with its rows when core's transaction committed, `done` with none
    when it did not; entries left `open` committed nothing (interrupted)."""
    entries = locked.unfinished(IMPORT)
    if entries:
        with core.connect() as conn:
            for entry in entries:
                status = core_transaction_status(conn, int(entry.detail["core_xid"]))
                step = locked.step(IMPORT, entry)
                if status == "committed":
                    step.done(rows=int(entry.detail["written"]),
                              fingerprint=entry.detail["fingerprint"], repaired=True)
                else:  # aborted, or too old for core to know (the rows then count as present)
                    step.done(rows=0, repaired=True, core_transaction=status or "unknown")
    return len(entries) + locked.interrupt_open(IMPORT)


def _archive(handles: ImportHandles, months: list[dt.date], out: Delivered) -> None:
    IMPORT.crash("before_archive")
    results = main_archive.archive_months(handles.engine, handles.archive, handles.spec, months,
                                          handles.today)
    out.archived.setdefault(handles.spec.name, []).extend(r.key for r in results if r.key)


def _ensure_main_table(handles: ImportHandles) -> None:
    """Main's copy of the table, made from core's definition as a core→main move makes it."""
    table = handles.spec.name
    with handles.core.connect() as src, handles.main.connect() as dst:
        if not table_exists(src, table):
            raise MoveError(f"table {table} does not exist in core: run `persys setup` (the "
                            "sample schema) or map the import onto a table you have "
                            "(imports: in persys.yaml)")
        mirror.ensure_destination(src, dst, table, handles.spec.policy.day_column, CORE, MAIN)
        dst.commit()


def _deliver_batch(locked: Locked, handles: ImportHandles, batch: Batch,
                   source: ImportSource, skip: frozenset[str]) -> tuple[int, int, int]:
    to = CORE if batch.tier == CORE else MAIN
    first, last = month_span(batch.month)
    step = locked.open(dataclasses.replace(IMPORT, to_tier=to), first, last,
                       sha256=source.sha256, kind=source.kind, file=source.name,
                       bound_for=batch.tier)
    tier = handles.core if to == CORE else handles.main
    try:
        with tier.connect() as conn:
            pin_session(conn)
            counts = yielding(f"import into {to} {batch.table} {batch.month:%Y-%m}",
                              lambda: _write(conn, handles, batch, step, to, skip))
    except BaseException as exc:
        step.failed(exc)  # an entry already `committing` is the next run's to reconcile
        raise
    return counts


def _write(conn: psycopg.Connection, handles: ImportHandles, batch: Batch, step: Step,
           to: str, skip: frozenset[str]) -> tuple[int, int, int]:
    """One transaction: stage, insert what no tier holds, fingerprint it, commit with the
    ledger's record of it. Returns (written, present, repeated)."""
    try:
        conn.execute("select set_config('work_mem', '64MB', true)")  # sorts a batch in memory
        staged = stage(conn, batch)
        other = handles.main if batch.tier == CORE else handles.core
        other_keys(conn, other, handles.main, handles.archives, handles.spec, batch, skip)
        xid = int(conn.execute("select pg_current_xact_id()::text").fetchone()[0])
        distinct, inserted = insert_new(conn, handles.spec, batch)
        written = written_rows(conn, handles.spec, batch, xid)
        if written.rows != inserted:
            raise MoveError(f"{batch.table} {batch.month:%Y-%m}: inserted {inserted} rows but "
                            f"found {written.rows} of them in the table; nothing was written")
        detail = {"written": written.rows, "present": distinct - written.rows,
                  "repeated": staged - distinct}
        if to == MAIN:
            step.done(conn=conn, rows=written.rows, fingerprint=written.text, **detail)
            step.crash("before_commit")
            conn.commit()
            step.crash("after_commit")
        else:
            step.advance(COMMITTING, core_xid=xid, fingerprint=written.text, **detail)
            step.crash("before_commit")
            conn.commit()
            step.crash("after_commit")
            step.done(rows=written.rows, fingerprint=written.text)
    except BaseException:
        conn.rollback()
        raise
    return written.rows, distinct - written.rows, staged - distinct

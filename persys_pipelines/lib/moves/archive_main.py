"""archive→main (a restore): the rows of [first, last] leave the archive for main (the rest of
each file is written back as a remainder file) and are pinned in main for a while.

Per file, holding the table's lock: the file's rows go into a scratch table typed exactly as
the file records them (so a column widened in main since changes nothing), their fingerprint
is proven equal to the one taken when they left main, and the rows whose recorded day (the
file's `_day`, computed in the zone of the day they were archived: a later `timezone:`
change moves no row out of its file's cut) lies in the range are inserted into main with
ON CONFLICT DO NOTHING, together with the ledger entry (the remainder's entry in it) and the
pin, in one commit. Then the manifest swaps the entry for the remainder's and the old file is
deleted (`archive_repair` finishes that swap after a crash, from the ledger). A file with no
row in the range is not touched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from psycopg import sql

from ..archive import digest, pins
from ..archive import format as fmt
from ..archive.manifest import (
    FileEntry,
    file_key,
    load_file,
    now_text,
    read_manifest,
    sha256,
    write_manifest,
)
from ..archive.rows import load_rows
from ..archive.stores import StoreError
from ..errors import ArchiveError
from ..lazy import lazy_module
from ..pg import fingerprint
from ..pg.catalog import generated_columns, ident
from ..pg.tables import TableSpec
from ..pg.tiers import PgTier
from .archive_repair import holding, reconcile
from .engine import Engine, Locked, route
from .target import ArchiveTarget

pa = lazy_module("pyarrow")
pc = lazy_module("pyarrow.compute")
ARCHIVE_MAIN = route("archive_main", "archive", "main", points=(
    "before_commit", "after_commit", "after_manifest"))
SCRATCH = "persys_restore"


@dataclass
class RestoreResult:
    table: str
    first_day: dt.date
    last_day: dt.date
    rows: int = 0  # rows brought back into main
    already_in_main: int = 0
    files: list[str] = field(default_factory=list)
    remainders: list[str] = field(default_factory=list)
    pinned_until: dt.date | None = None  # the days are held in main until then (pins.py)


def restore(engine: Engine, targets: list[ArchiveTarget], spec: TableSpec, first: dt.date,
            last: dt.date, *, today: dt.date,
            pin_days: int = pins.DEFAULT_PIN_DAYS) -> RestoreResult:
    """Bring the rows of [first, last] back into main from every store, idempotently (module
    doc); restoring days again, or days without rows, changes nothing."""
    if first > last:
        raise ArchiveError(f"--from {first} is after --to {last}")
    until = pins.pin_until(pin_days, today)
    with engine.locked(spec.name) as locked:
        return restore_locked(locked, targets, spec, first, last, until)


def restore_locked(locked: Locked, targets: list[ArchiveTarget], spec: TableSpec,
                   first: dt.date, last: dt.date, until: dt.date | None) -> RestoreResult:
    """`restore` for a caller that holds the table's lock (another route's step)."""
    result = RestoreResult(spec.name, first, last)
    for target in targets:
        try:
            target.store.check()
        except StoreError as exc:
            raise ArchiveError(f"cannot restore: {exc}") from None
        reconcile(locked, target, spec.name)
        for entry in read_manifest(target.store, spec.name).committed():
            if not entry.covers(first, last):
                continue
            data = fmt.read_parquet(load_file(target.store, target.ring, entry)[0])
            if not days_in(data, first, last):
                continue  # the range falls between the file's days: leave the file alone
            remainder = _restore_file(locked, target, spec, entry, data, first, last, result,
                                      until)
            finish(target, spec.name, entry.key, remainder)
    return result


def days_in(data: pa.Table, first: dt.date, last: dt.date) -> int:
    """Rows of an archive file dated in [first, last]. Zero means a restore has nothing to take
    from the file, and must not touch it: re-encoding all its rows gives the same bytes, hence
    the same key, and swapping the file for "its remainder" would delete it."""
    return pc.sum(pc.cast(_inside(data, first, last), pa.int64())).as_py() or 0


def _inside(data: pa.Table, first: dt.date, last: dt.date) -> pa.ChunkedArray:
    day = data.column(fmt.day_of(data.schema))
    return pc.and_(pc.greater_equal(day, pa.scalar(first, pa.date32())),
                   pc.less_equal(day, pa.scalar(last, pa.date32())))


def load_scratch(conn, data: pa.Table) -> list[str]:
    """Rows of a file into the scratch table, typed as the file records them (so a column
    widened in main since changes nothing); returns the columns in the file's order."""
    types = fmt.pg_types_of(data.schema)
    scratch = sql.Identifier(SCRATCH)
    conn.execute(sql.SQL("drop table if exists {}").format(scratch))
    conn.execute(sql.SQL("create temp table {} ({}) on commit drop").format(
        scratch, sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in types.items())))
    return load_rows(conn, scratch, data)


def scratch_fingerprint(conn, table: str, columns: list[str],
                        algorithm: str = fingerprint.TYPED) -> fingerprint.Fingerprint:
    return fingerprint.of_table(conn, table, columns, relation=sql.Identifier(SCRATCH),
                                types=f"pg_temp.{SCRATCH}", algorithm=algorithm)


def verify_file(conn, table: str, entry: FileEntry, data: pa.Table) -> None:
    """The file's rows, loaded back, have the fingerprint they had when they left main."""
    want = entry.fp
    got = scratch_fingerprint(conn, table, load_scratch(conn, data), want.algorithm)
    if got != want:
        raise ArchiveError(
            f"{entry.key}: the file's rows do not match what left main ({got.text} vs "
            f"{want.text}); nothing was restored")


def _restore_file(locked: Locked, target: ArchiveTarget, spec: TableSpec, entry: FileEntry,
                  data: pa.Table, first: dt.date, last: dt.date, result: RestoreResult,
                  until: dt.date | None) -> FileEntry | None:
    with locked.engine.main.connect() as conn:
        inside = _inside(data, first, last)
        wanted = pc.sum(pc.cast(inside, pa.int64())).as_py() or 0
        verify_file(conn, spec.name, entry, data)
        rest = data.filter(pc.invert(inside))
        rest_fp = scratch_fingerprint(conn, spec.name, load_scratch(conn, rest))
        columns = load_scratch(conn, data.filter(inside))
        insertable = [c for c in columns if c not in generated_columns(conn, spec.name)]
        cols = sql.SQL(", ").join(map(sql.Identifier, insertable))
        inserted = conn.execute(
            sql.SQL("insert into {t} ({c}) select {c} from {s} on conflict do nothing").format(
                t=ident(spec.name), c=cols, s=sql.Identifier(SCRATCH))).rowcount
        step = locked.open(ARCHIVE_MAIN, first, last, conn=conn)
        remainder = _remainder(target, spec.name, entry, rest, rest_fp, step.id)
        if until:
            pins.pin(conn, spec.name, first, last, until)
        digest.store(conn, spec.name, entry.key, {})  # its rows are in main or the remainder
        if remainder is not None:
            digest.store(conn, spec.name, remainder.key, digest.of_file(rest))
        step.done(conn=conn, rows=inserted, bytes_=entry.bytes, fingerprint=entry.fingerprint,
                  key=entry.key, store=target.store.url, entry_ledger_id=entry.ledger_id,
                  remainder=remainder.to_json() if remainder else None,
                  pinned_until=until and until.isoformat())
        step.crash("before_commit")
        conn.commit()
    step.crash("after_commit")
    result.rows += inserted
    result.already_in_main += wanted - inserted
    result.files.append(target.store.uri(entry.key))
    result.pinned_until = until
    if remainder:
        result.remainders.append(target.store.uri(remainder.key))
    return remainder


def _remainder(target: ArchiveTarget, table: str, entry: FileEntry, rest: pa.Table,
               rest_fp: fingerprint.Fingerprint, ledger_id: int) -> FileEntry | None:
    """The file's rows outside the restored days, as a new immutable file (None: no rows);
    `rest_fp`: their fingerprint, taken from the proven file's rows."""
    if rest.num_rows == 0:
        return None
    plain = fmt.parquet_bytes(rest, level=target.level)
    digest = sha256(plain)
    key = file_key(table, dt.date.fromisoformat(entry.min_day), digest)
    stored, key_id = target.ring.encrypt(plain, key)
    target.store.put(key, stored)
    if target.ring.decrypt(target.store.get(key), key)[0] != plain:
        raise ArchiveError(f"{target.store.uri(key)}: read back differs; nothing was restored")
    return FileEntry(
        key=key, month=entry.month, sha256=digest, rows=rest.num_rows, bytes=len(stored),
        min_day=pc.min(rest.column(fmt.day_of(rest.schema))).as_py().isoformat(),
        max_day=pc.max(rest.column(fmt.day_of(rest.schema))).as_py().isoformat(),
        schema=entry.schema,
        primary_key=entry.primary_key, fingerprint=rest_fp.text, key_id=key_id,
        created=now_text(), ledger_id=ledger_id, zone=entry.zone)


def finish(target: ArchiveTarget, table: str, old_key: str, remainder: FileEntry | None) -> None:
    """Swap the restored file's manifest entry for its remainder, then delete the file.

    A remainder under the old key is the old file itself (same rows → same bytes → same
    content-addressed key): nothing replaced it, so nothing is swapped or deleted."""
    if remainder is not None and remainder.key == old_key:
        return
    manifest = read_manifest(target.store, table)
    if old_key in manifest.named():
        manifest.drop(old_key)
        if remainder is not None:
            manifest.put(remainder)
        write_manifest(target.store, manifest)
    ARCHIVE_MAIN.crash("after_manifest")
    target.store.delete(old_key)


def archived_keys(targets: list[ArchiveTarget], main: PgTier, table: str, keys: list[str],
                  wanted: list[tuple]) -> set[tuple]:
    """Which of `wanted` (key tuples) an archive file of `table` holds (`holding`: committed,
    or pending after its move committed; only the key columns of each file are read): a
    backup restore's "held elsewhere"."""
    found: set[tuple] = set()
    for target in targets:
        for entry in holding(main, read_manifest(target.store, table).files):
            types = entry.pg_types
            theirs = [k for k in (entry.primary_key or keys) if k in types]
            if not theirs or not set(theirs) <= set(keys):
                continue
            at = [keys.index(k) for k in theirs]
            projected = {tuple(w[i] for i in at): w for w in wanted}
            data = fmt.read_parquet(load_file(target.store, target.ring, entry)[0])
            held = set(fmt.python_rows(data.select(theirs), {k: types[k] for k in theirs}))
            found |= {w for p, w in projected.items() if p in held}
    return found

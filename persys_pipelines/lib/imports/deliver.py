"""Delivery: the one place imported rows are written into a tier.

    deliver(handles, batches, source=ImportSource(sha256, kind, name))

`route(policy, today, day)` says where a row of a given day belongs, as the lifecycle would
have put it by now: days within `core_days` → core; older → main; days of a month wholly
older than `main_days` (the archive's own rule, `archive.manifest.due_cutoff`) → archive;
older than `delete_days` → nowhere (retention would delete them; reported as dropped).

Each `Batch` is one table's rows of one month bound for one tier, as a file of COPY text rows
(key column first). A batch is delivered under the table's mover lock (`protocol.table_lock`,
shared with every core→main, archive and restore mover), in ONE transaction of the tier:
  1. COPY the file into a temporary table (no Python work per row);
  2. the keys the other tiers hold for those days (core or main, and every archive file
     whose days meet the month, decrypted and checked) into a second temporary table;
  3. `INSERT … SELECT DISTINCT ON (key) … WHERE the key is in neither`, returning the
     fingerprint (rows, sum of hashtextextended(row::text, 0), as `protocol.fingerprint`) of
     exactly the rows written;
  4. a `persys_ledger` row (from `import` to the tier) with that fingerprint; in main it is
     written in the same transaction, for core it is opened before and closed after;
  5. COMMIT.
A batch bound for the archive is delivered to main by the same steps, and then its months
go through the archive writer (`Handles.archive_months`: the lifecycle's own main→archive
move, so the file, manifest, sha256, read-back, row checksum and ledger row are exactly
those of any archived month; main holds at most `ARCHIVE_EVERY` months of staged rows).

Crash (kill -9) anywhere: an uncommitted batch leaves nothing; a committed one is complete;
rows staged in main but not yet archived are simply rows in main (the next import of the file,
or the next lifecycle run, archives them). Running the import again delivers exactly the
batches that are missing: a key already in core, main or the archive is never written again.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from ..archive.crypto import Keyring
from ..archive.manifest import due_cutoff, ledger_outcomes, load_file, month_bounds, read_manifest
from ..archive.stores import Store
from ..config import TablePolicy
from ..errors import MoveError
from ..lazy import lazy_module
from ..pg import ledger, mirror
from ..pg.protocol import Fingerprint, crash_point, prepare_session, table_lock
from ..pg.schema import table_exists
from ..pg.tiers import PgTier

pq = lazy_module("pyarrow.parquet")
log = logging.getLogger(__name__)

CORE, MAIN, ARCHIVE = "core", "main", "archive"
FROM_TIER = "import"
ARCHIVE_EVERY = 6  # archive-bound months staged in main before the archive writer takes them
CHUNK = 1 << 20


def route(policy: TablePolicy, today: dt.date, day: dt.date) -> str | None:
    """The tier a row of `day` belongs in as of `today` (None: past delete_days)."""
    if policy.delete_days is not None and day < today - dt.timedelta(days=policy.delete_days):
        return None
    if day >= today - dt.timedelta(days=policy.core_days):
        return CORE
    cutoff = due_cutoff(policy, today)
    if cutoff is not None and month_bounds(day)[1] < cutoff:
        return ARCHIVE
    return MAIN


@dataclass(frozen=True)
class Batch:
    """One table's rows of one month bound for one tier: `path` holds COPY text rows in
    `columns` order (the key column first)."""

    table: str
    tier: str
    month: dt.date
    columns: tuple[str, ...]
    path: Path
    rows: int


@dataclass(frozen=True)
class Handles:
    """What delivery touches, resolved by the caller (never the whole config)."""

    core: PgTier
    main: PgTier
    stores: Sequence[Store]  # every archive store whose files may hold the keys
    ring: Keyring
    # the archive writer bound to its store, keyring and `today`: (table, months) → results
    archive_months: Callable[[str, list[dt.date]], list]
    policies: Mapping[str, TablePolicy]
    today: dt.date


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

    def add(self, table: str, tier: str, new: int, present: int, repeated: int) -> None:
        self.new[(table, tier)] = self.new.get((table, tier), 0) + new
        self.present[(table, tier)] = self.present.get((table, tier), 0) + present
        self.repeated[table] = self.repeated.get(table, 0) + repeated


def deliver(handles: Handles, batches: Iterable[Batch], *, source: ImportSource,
            run_id: str | None = None, progress: Callable[[int], None] | None = None
            ) -> Delivered:
    """Write every batch into its tier (module docstring); idempotent by key across tiers."""
    out = Delivered()
    by_table: dict[str, list[Batch]] = {}
    for batch in batches:
        by_table.setdefault(batch.table, []).append(batch)
    for table, todo in by_table.items():
        _ensure_main_table(handles, table, handles.policies[table].day_column)
        staged: list[dt.date] = []
        for batch in sorted(todo, key=lambda b: (b.tier != ARCHIVE, b.month, b.tier)):
            _deliver_batch(handles, batch, source, run_id, out)
            if progress:
                progress(batch.rows)
            if batch.tier == ARCHIVE:
                staged.append(batch.month)
                if len(staged) == ARCHIVE_EVERY:
                    _archive(handles, table, staged, out)
                    staged = []
        if staged:
            _archive(handles, table, staged, out)
    return out


def _archive(handles: Handles, table: str, months: list[dt.date], out: Delivered) -> None:
    crash_point("import_before_archive")
    results = handles.archive_months(table, months)
    out.archived.setdefault(table, []).extend(r.key for r in results if r.key)


def _ensure_main_table(handles: Handles, table: str, day_column: str) -> None:
    """Main's copy of the table, made from core's definition as a core→main move makes it."""
    with handles.core.connect() as src, handles.main.connect() as dst:
        if not table_exists(src, table):
            raise MoveError(f"table {table} does not exist in core: run `persys setup` (the "
                            "sample schema) or map the import onto a table you have "
                            "(imports: in persys.yaml)")
        mirror.ensure_destination(src, dst, table, day_column, CORE, MAIN)
        dst.commit()


def _deliver_batch(handles: Handles, batch: Batch, source: ImportSource, run_id: str | None,
                   out: Delivered) -> None:
    dest_tier = handles.core if batch.tier == CORE else handles.main
    to = CORE if batch.tier == CORE else MAIN
    first, last = month_bounds(batch.month)
    detail = {"sha256": source.sha256, "kind": source.kind, "file": source.name,
              "route": batch.tier}
    with table_lock(handles.main, batch.table) as lock_conn:
        ledger.ensure(lock_conn)
        ledger.mark_interrupted(lock_conn, batch.table, FROM_TIER, to)
        entry = None
        if to == CORE:  # the ledger is in main: opened now, closed after core commits
            entry = ledger.open_entry(lock_conn, table=batch.table, first_day=first,
                                      last_day=last, from_tier=FROM_TIER, to_tier=to,
                                      run_id=run_id)
        with dest_tier.connect() as conn:
            prepare_session(conn)
            staged, distinct = _stage(conn, batch)
            _other_keys(handles, batch, conn, first, last)
            written = _insert(conn, batch)
            detail |= {"present": distinct - written.rows, "repeated": staged - distinct}
            if entry is None:
                entry = ledger.open_entry(conn, table=batch.table, first_day=first,
                                          last_day=last, from_tier=FROM_TIER, to_tier=to,
                                          run_id=run_id)
                ledger.close_entry(conn, entry, outcome=_outcome(written), rows=written.rows,
                                   checksum=written.text, detail=detail)
                crash_point("import_before_commit")
                conn.commit()
            else:
                crash_point("import_before_commit")
                conn.commit()
                ledger.close_entry(lock_conn, entry, outcome=_outcome(written),
                                   rows=written.rows, checksum=written.text, detail=detail)
        crash_point("import_after_commit")
    out.add(batch.table, batch.tier, written.rows, distinct - written.rows, staged - distinct)


def _outcome(written: Fingerprint) -> str:
    return ledger.MOVED if written.rows else ledger.NOTHING


def _stage(conn: psycopg.Connection, batch: Batch) -> tuple[int, int]:
    """The batch's rows in `persys_import_rows` (temporary, typed as the table's columns);
    returns (rows, distinct keys)."""
    cols = sql.SQL(", ").join(map(sql.Identifier, batch.columns))
    conn.execute(sql.SQL("create temporary table persys_import_rows on commit drop as "
                         "select {} from {} where false").format(cols,
                                                                 sql.Identifier(batch.table)))
    try:
        with conn.cursor() as cur, cur.copy(
                sql.SQL("copy persys_import_rows ({}) from stdin").format(cols)) as copy, \
                open(batch.path, "rb") as rows:
            while chunk := rows.read(CHUNK):
                copy.write(chunk)
    except psycopg.errors.DataError as exc:
        raise MoveError(f"{batch.table}: a value of the import does not fit the table's "
                        f"columns ({str(exc).splitlines()[0]}); check imports: columns in "
                        "persys.yaml; nothing of this file was written to this month") from None
    key = sql.Identifier(batch.columns[0])
    staged, distinct = conn.execute(sql.SQL(
        "select count(*), count(distinct {}) from persys_import_rows").format(key)).fetchone()
    return int(staged), int(distinct)


def _insert(conn: psycopg.Connection, batch: Batch) -> Fingerprint:
    """Rows whose key no tier holds, once each; the fingerprint of exactly those rows."""
    cols = sql.SQL(", ").join(map(sql.Identifier, batch.columns))
    key = sql.Identifier(batch.columns[0])
    row = conn.execute(sql.SQL(
        "with written as (insert into {t} ({cols}) select distinct on ({k}) {cols} "
        "from persys_import_rows s where not exists (select 1 from {t} t where t.{k} = s.{k})"
        " and not exists (select 1 from persys_import_elsewhere e where e.key = s.{k}::text)"
        " order by {k} returning *) "
        "select count(*), coalesce(sum(hashtextextended(w::text, 0)), 0) from written w"
    ).format(t=sql.Identifier(batch.table), cols=cols, k=key)).fetchone()
    return Fingerprint(int(row[0]), int(row[1]))


def _other_keys(handles: Handles, batch: Batch, conn: psycopg.Connection, first: dt.date,
                last: dt.date) -> None:
    """`persys_import_elsewhere`: keys of these days held by the other PostgreSQL tier and by
    the archive (a row moved by the lifecycle since an earlier import, or restored)."""
    conn.execute("create temporary table persys_import_elsewhere (key text) on commit drop")
    other = handles.main if batch.tier == CORE else handles.core
    policy = handles.policies[batch.table]
    key = batch.columns[0]
    with conn.cursor() as cur, cur.copy("copy persys_import_elsewhere from stdin") as copy:
        with other.connect() as src:
            if table_exists(src, batch.table):
                day = sql.Identifier(policy.day_column)
                query = sql.SQL("copy (select {k}::text from {t} where {d} >= {a} and {d} < {b})"
                                " to stdout").format(
                    k=sql.Identifier(key), t=sql.Identifier(batch.table), d=day,
                    a=sql.Literal(first - dt.timedelta(days=2)),
                    b=sql.Literal(last + dt.timedelta(days=3)))
                with src.cursor() as scur, scur.copy(query) as keys:
                    for data in keys:
                        copy.write(data)
        for text in archived_keys(handles.stores, handles.ring, handles.main, batch.table,
                                  key, first, last):
            copy.write(text)


def archived_keys(stores: Sequence[Store], ring: Keyring, main: PgTier, table: str, key: str,
                  first: dt.date, last: dt.date) -> Iterable[bytes]:
    """Keys (COPY text lines) in archive files whose days meet [first - 1, last + 1]: committed
    entries, and pending ones whose ledger row says the move happened (a killed archive run
    the next one will mark committed)."""
    lo, hi = (first - dt.timedelta(days=1)).isoformat(), (last + dt.timedelta(days=1)).isoformat()
    for store in stores:
        entries = [e for e in read_manifest(store, table)["files"]
                   if e["min_day"] <= hi and e["max_day"] >= lo]
        pending = [e["ledger_id"] for e in entries if e.get("state") == "pending"]
        moved = set()
        if pending:
            with main.connect() as conn:
                moved = {i for i, o in ledger_outcomes(conn, pending).items()
                         if o == ledger.MOVED}
        for entry in entries:
            if entry.get("state", "committed") != "committed" and entry["ledger_id"] not in moved:
                continue
            plain, _ = load_file(store, ring, entry)
            column = pq.read_table(lazy_module("pyarrow").BufferReader(plain),
                                   columns=[key]).column(key)
            values = column.to_pylist()
            if dict(entry["schema"]).get(key) == "uuid":
                values = [None if v is None else str(uuid.UUID(bytes=v)) for v in values]
            yield "".join(f"{v}\n" for v in values if v is not None).encode()

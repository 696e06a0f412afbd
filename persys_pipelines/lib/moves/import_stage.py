"""The SQL of one import batch (lib/moves/import_rows.py's steps 2-4), shared by the batches
written into core or main and those written straight into an archive file
(import_archive.py): stage the file's rows, gather the keys the other tiers hold for those
days, insert what no tier holds, fingerprint what one transaction wrote.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterator, Sequence

import psycopg
from psycopg import sql

from ..archive.manifest import load_file, read_manifest
from ..calendar import month_span
from ..errors import MoveError
from ..lazy import lazy_module
from ..pg import fingerprint
from ..pg.catalog import ident, table_exists
from ..pg.tables import TableSpec
from ..pg.tiers import PgTier
from .archive_repair import holding
from .engine import route
from .import_plan import Batch
from .settle import XID_MASK
from .target import ArchiveTarget

pq = lazy_module("pyarrow.parquet")
pa = lazy_module("pyarrow")

COMMITTING = "committing"  # core's rows are written, its commit not yet known (core only)
IMPORT = route("import", "file", "tier", states=(COMMITTING,),
               points=("before_commit", "after_commit", "before_archive"))
CHUNK = 1 << 20
ROWS, ELSEWHERE = "persys_import_rows", "persys_import_elsewhere"
MARGIN = dt.timedelta(days=2)  # a key is looked for on its month's days and this either side


def stage(conn: psycopg.Connection, batch: Batch) -> int:
    """The batch's rows in a temporary table typed as the table's columns; returns how many."""
    cols = sql.SQL(", ").join(map(sql.Identifier, batch.columns))
    conn.execute(sql.SQL("create temporary table {} on commit drop as select {} from {} "
                         "where false").format(sql.Identifier(ROWS), cols, ident(batch.table)))
    try:
        with conn.cursor() as cur:
            with cur.copy(sql.SQL("copy {} ({}) from stdin").format(
                    sql.Identifier(ROWS), cols)) as copy, open(batch.path, "rb") as rows:
                while chunk := rows.read(CHUNK):
                    copy.write(chunk)
            staged = cur.rowcount  # the server's own `COPY n`
    except psycopg.errors.DataError as exc:
        raise MoveError(f"{batch.table}: a value of the import does not fit the table's "
                        f"columns ({str(exc).splitlines()[0]}); check imports: columns in "
                        "persys.yaml; nothing of this file was written to this month") from None
    if staged != batch.rows:
        raise MoveError(f"{batch.path}: {staged} rows read back of the {batch.rows} spooled; "
                        "nothing of this month was written")
    return staged


def insert_new(conn: psycopg.Connection, spec: TableSpec, batch: Batch,
               into: sql.Composable | None = None) -> tuple[int, int]:
    """Rows whose key no tier holds, once each, into the table (or `into`, a temporary table
    of its shape); returns (distinct keys, rows written).

    A key whose row can only be on the batch's days (`key_has_day`) is looked for in the
    table on those days only (the day column's index or partitions serve it): a whole-table
    anti-join would read all of main's history once per batch."""
    cols = sql.SQL(", ").join(map(sql.Identifier, batch.columns))
    t = sql.Identifier("t")
    same = days(spec, batch.month, t) if batch.key_has_day else sql.SQL("true")
    row = conn.execute(sql.SQL(
        "with once as materialized (select distinct on ({k}) {cols} from {rows} order by {k}), "
        "written as (insert into {into} ({cols}) select {cols} from once s "
        "where not exists (select 1 from {table} t where t.{k} = s.{k} and {same}) "
        "and not exists (select 1 from {elsewhere} e where e.key = s.{k}::text) returning 1) "
        "select (select count(*) from once), (select count(*) from written)"
    ).format(table=ident(batch.table), into=into or ident(batch.table), cols=cols,
             k=sql.Identifier(batch.columns[0]), rows=sql.Identifier(ROWS),
             elsewhere=sql.Identifier(ELSEWHERE), same=same)
    ).fetchone()
    return int(row[0]), int(row[1])


def written(conn: psycopg.Connection, spec: TableSpec, batch: Batch,
             xid: int) -> fingerprint.Fingerprint:
    """The fingerprint of exactly the rows this transaction wrote: the month's (a day more
    either side, so the day column's index serves it) whose `xmin` is its id."""
    alias = sql.Identifier(fingerprint.ALIAS)
    where = sql.SQL("{w} and {a}.xmin = {x}::xid").format(
        w=days(spec, batch.month, alias), a=alias, x=sql.Literal(str(xid & XID_MASK)))
    return fingerprint.of_table(conn, batch.table, list(batch.columns), where)


def days(spec: TableSpec, month: dt.date, alias: sql.Composable | None = None
          ) -> sql.Composable:
    """The month's rows by the raw day column, `MARGIN` either side (any zone's day of the
    month lies within it, and the column's index or partitions serve it)."""
    first, last = month_span(month)
    col = sql.Identifier(spec.policy.day_column) if alias is None else sql.SQL("{}.{}").format(
        alias, sql.Identifier(spec.policy.day_column))
    return sql.SQL("{c} >= {a} and {c} < {b}").format(
        c=col, a=sql.Literal(first - MARGIN),
        b=sql.Literal(last + MARGIN + dt.timedelta(days=1)))


def other_keys(conn: psycopg.Connection, other: PgTier, main: PgTier,
               archives: Sequence[ArchiveTarget], spec: TableSpec, batch: Batch,
               skip: Collection[str] = ()) -> None:
    """A temporary table of the keys of these days held by the other PostgreSQL tier and by
    the archive (a row the lifecycle moved since an earlier import, or a restore brought
    back), but for archive files in `skip` (written by this same import: import_rows)."""
    conn.execute(sql.SQL("create temporary table {} (key text) on commit drop").format(
        sql.Identifier(ELSEWHERE)))
    key = batch.columns[0]
    first, last = month_span(batch.month)
    with conn.cursor() as cur, cur.copy(sql.SQL("copy {} from stdin").format(
            sql.Identifier(ELSEWHERE))) as copy:
        with other.connect() as src:
            if table_exists(src, batch.table):
                query = sql.SQL("copy (select {k}::text from {t} where {w}) to stdout").format(
                    k=sql.Identifier(key), t=ident(batch.table), w=days(spec, batch.month))
                with src.cursor() as scur, scur.copy(query) as keys:
                    for data in keys:
                        copy.write(data)
        for text in archived_keys(archives, main, batch.table, key, first, last, skip):
            copy.write(text)


def archived_keys(targets: Sequence[ArchiveTarget], main: PgTier, table: str, key: str,
                  first: dt.date, last: dt.date, skip: Collection[str] = ()
                  ) -> Iterator[bytes]:
    """Keys (COPY text lines) in archive files whose days meet the month's (`MARGIN` days
    either side) that hold their rows (`archive_repair.holding`). Only the key column is
    read."""
    lo, hi = first - MARGIN, last + MARGIN
    for target in targets:
        entries = [e for e in read_manifest(target.store, table).files
                   if e.covers(lo, hi) and e.key not in skip]
        for entry in holding(main, entries):
            plain, _ = load_file(target.store, target.ring, entry)
            values = pq.read_table(pa.BufferReader(plain), columns=[key]).column(key).to_pylist()
            if entry.pg_types.get(key) == "uuid":
                values = [None if v is None else str(uuid.UUID(bytes=v)) for v in values]
            yield "".join(f"{v}\n" for v in values if v is not None).encode()

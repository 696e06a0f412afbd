"""The core→main move's proof of equality: count and checksum of the copied columns, on both
sides, cheap enough to cost less than the copy's own noise.

The checksum is `sum(hash_record_extended(row(<copied columns>), 0))`: each column's value is
hashed with its type's own 64-bit hash function (the one hash indexes and hash joins rely on),
combined in column order, and the rows' hashes are summed exactly (numeric, no overflow). It
is ~3× cheaper than hashing each row's text (`t::text` formats every value first) and is
defended like this:
- order-independent by construction (a COPY has no row order), but not blind to duplicates
  or swaps: a duplicated row adds its hash twice and the count differs; a value moved to
  another row or column changes both rows' hashes;
- a changed, missing or extra row goes unnoticed only if 64-bit hashes collide (2^-64 per
  row set for unrelated changes; nobody adversarial controls both tiers' contents);
- what it cannot see is what the types' equality ignores (numeric 1.0 vs 1.00, float −0 vs 0):
  a binary COPY between the same types preserves those bytes exactly, so a mover cannot lose
  them without also changing a hashed value.
A column whose typed hash is not the same in two databases (an enum hashes its labels' OIDs;
composite and extension types) or that has none (json, point, …) is hashed by its text instead
(`col::text` inside the row; slower, same guarantees). Both sides hash the same column list
(main's copy columns), so extra or reordered columns in main do not matter.

Core's side is read in the copy's own snapshot: on a second session that imports the copy's
exported snapshot (so it runs while the copy streams), or, behind a transaction pooler, in the
copy's own transaction after the copy (`snapshot_fingerprint`).
"""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg import sql

from ..errors import MoveError
from ..pg.catalog import ident, regclass
from ..pg.protocol import Fingerprint, prepare_session
from ..pg.tiers import PgTier

FIRST_USER_OID = 16384  # PostgreSQL's FirstNormalObjectId: below it, built-in objects


def row_hash(conns: list[psycopg.Connection], table: str, columns: list[str],
             alias: str = "t") -> sql.Composable:
    """The per-row hash expression for `columns` of `table`, the same at every connection
    (core and main). A column is hashed as text where its typed hash would not be the same
    in both databases or does not exist (`text_hashed`)."""
    as_text: set[str] = set()
    for conn in conns:
        as_text |= text_hashed(conn, table, columns)
    return sql.SQL("hash_record_extended(row({}), 0)").format(sql.SQL(", ").join(
        sql.SQL("{}.{}{}").format(sql.Identifier(alias), sql.Identifier(c),
                                  sql.SQL("::text") if c in as_text else sql.SQL(""))
        for c in columns))


def text_hashed(conn: psycopg.Connection, table: str, columns: list[str]) -> set[str]:
    """Columns to hash by their text: a type that is not built in (an enum hashes its labels'
    OIDs, which differ between databases; a composite or extension type may too), and a
    built-in type without an extended hash function (json, point, …). Domains and arrays are
    judged by their base and element types."""
    rows = conn.execute(
        """with recursive chain(attname, typ) as (
             select attname, atttypid from pg_attribute
              where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped
             union all
             select c.attname, case when t.typtype = 'd' then t.typbasetype else t.typelem end
               from chain c join pg_type t on t.oid = c.typ
              where t.typtype = 'd' or (t.typcategory = 'A' and t.typelem <> 0))
           select c.attname,
                  bool_and(c.typ < %s or t.typtype = 'd' or t.typcategory = 'A'),
                  min(format_type(a.atttypid, a.atttypmod))
             from chain c join pg_type t on t.oid = c.typ
             join pg_attribute a on a.attrelid = to_regclass(%s) and a.attname = c.attname
            group by c.attname""",
        (regclass(table), FIRST_USER_OID, regclass(table))).fetchall()
    found = {name: (built_in, type_name) for name, built_in, type_name in rows}
    out = {c for c in columns if c not in found or not found[c][0]}
    for type_name in {found[c][1] for c in columns if c not in out}:
        if not _has_typed_hash(conn, type_name):
            out |= {c for c in columns if c in found and found[c][1] == type_name}
    return out


def _has_typed_hash(conn: psycopg.Connection, type_name: str) -> bool:
    """Asked of PostgreSQL with a typed NULL in a row (its hash looks every column's hash
    function up first), in a savepoint."""
    try:
        with conn.transaction():
            conn.execute(sql.SQL("select hash_record_extended(row(null::{}), 0)").format(
                sql.SQL(type_name)))
    except psycopg.errors.UndefinedFunction:
        return False
    return True


def checksum_query(table: str, where: sql.Composable, hashed: sql.Composable,
                   per_partition: bool = False) -> sql.Composable:
    group = sql.SQL("t.tableoid::regclass::text, ") if per_partition else sql.SQL("")
    return sql.SQL("select {}count(*), coalesce(sum({}), 0) from {} t where {}{}").format(
        group, hashed, ident(table), where,
        sql.SQL(" group by 1") if per_partition else sql.SQL(""))


def source_fingerprint(source: PgTier, snapshot_id: str, table: str, taken: sql.Composable,
                       hashed: sql.Composable,
                       whole: list[str]) -> tuple[Fingerprint, dict[str, int]]:
    """Count and checksum of the copied rows in the copy's own (exported) snapshot, on a
    connection of its own so it runs while the copy streams; plus the rows of each whole
    month partition (for the settle step)."""
    with source.connect() as conn:
        prepare_session(conn)
        conn.execute("set transaction isolation level repeatable read, read only")
        conn.execute(sql.SQL("set transaction snapshot {}").format(sql.Literal(snapshot_id)))
        out = snapshot_fingerprint(conn, table, taken, hashed, whole)
        conn.rollback()
    return out


def snapshot_fingerprint(conn: psycopg.Connection, table: str, taken: sql.Composable,
                         hashed: sql.Composable,
                         whole: list[str]) -> tuple[Fingerprint, dict[str, int]]:
    """`source_fingerprint`'s query in `conn`'s current (REPEATABLE READ) transaction."""
    rows = conn.execute(checksum_query(table, taken, hashed, per_partition=True)).fetchall()
    total = sum((Fingerprint(int(n), int(h)) for _, n, h in rows), Fingerprint(0, 0))
    names = {name.strip('"'): int(n) for name, n, _ in rows}
    return total, {p: names.get(p, 0) for p in whole}


def dest_fingerprint(dst: psycopg.Connection, table: str, mine: sql.Composable,
                     hashed: sql.Composable) -> Fingerprint:
    """Count and checksum of the rows main's open transaction wrote (`mine`)."""
    row = dst.execute(checksum_query(table, mine, hashed)).fetchone()
    return Fingerprint(int(row[0]), int(row[1]))


def check(table: str, first: dt.date | None, last: dt.date | None, source_fp: Fingerprint,
          dest_fp: Fingerprint, copied_rows: int) -> None:
    """Raise if the two sides differ: nothing is deleted, main's transaction rolls back."""
    if source_fp == dest_fp and source_fp.rows == copied_rows:
        return
    raise MoveError(
        f"{table} {first}..{last}: verification failed (core {source_fp.rows} rows, checksum "
        f"{source_fp.checksum}; main {dest_fp.rows} rows, checksum {dest_fp.checksum}; "
        f"copied {copied_rows}). Nothing was deleted; main's transaction was rolled back. Run "
        f"`persys lifecycle repair --table {table}` to compare the tiers row by row")

"""The one fingerprint: count and checksum of a set of rows, the proof every route gives that
what arrived equals what left, cheap enough to cost less than the copy's own noise.

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
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..errors import MoveError
from .catalog import ident, regclass
from .session import in_snapshot, pin_session
from .tiers import PgTier

FIRST_USER_OID = 16384  # PostgreSQL's FirstNormalObjectId: below it, built-in objects
TYPED = "typed2"  # typed1, and what typed hashes call equal but are not: array bounds,
#                  a float's sign of zero and NaN bits, an unconstrained numeric's scale
TYPED1 = "typed1"  # sum(hash_record_extended(row(<columns>), 0)), text for unstable types
TEXT = "text1"  # sum(hashtextextended(<row>::text, 0)): archives and backups made before
COUNTED = "rows1"  # a count only (checksum 0): a copy nothing could alter on the way (binary
#                   COPY between the same types, no trigger or rule where it lands), proved by
#                   both servers' COPY counts (core_main's fast path)


@dataclass(frozen=True)
class Fingerprint:
    """Rows, checksum, and the algorithm that made the checksum (recorded beside it: a value
    is only ever compared with one made the same way)."""

    rows: int
    checksum: int
    algorithm: str = TYPED

    @property
    def text(self) -> str:
        return f"{self.algorithm}:{self.rows}:{self.checksum}"

    @classmethod
    def parse(cls, text: str, default_algorithm: str = TYPED) -> Fingerprint:
        """`typed1:12:345`; a bare `12:345` (before algorithms were recorded) is taken as
        `default_algorithm`."""
        parts = text.split(":")
        if len(parts) == 2:
            return cls(int(parts[0]), int(parts[1]), default_algorithm)
        return cls(int(parts[1]), int(parts[2]), parts[0])

    def __add__(self, other: Fingerprint) -> Fingerprint:
        if self.algorithm != other.algorithm:
            raise MoveError(f"cannot add a {self.algorithm} and a {other.algorithm} fingerprint")
        return Fingerprint(self.rows + other.rows, self.checksum + other.checksum,
                           self.algorithm)


NO_ROWS = Fingerprint(0, 0)
ALIAS = "persys_row"  # no column is named like it: `t.t` once hashed one column, not the row


def row_hash(conns: list[psycopg.Connection], table: str, columns: list[str],
             alias: str = ALIAS, *, relation: str | None = None,
             algorithm: str = TYPED) -> sql.Composable:
    """The per-row hash expression for `columns` of `table`, the same at every connection
    (core and main): each column hashed in its form (`column_forms`). `relation`: the
    regclass text of the relation whose column types count (a temporary table), when not
    `table` itself."""
    forms: dict[str, str] = {}
    for conn in conns:
        forms = merge_forms(forms, column_forms(conn, relation or regclass(table), columns,
                                                algorithm))
    return hash_expression(columns, forms, alias)


def column_forms(conn: psycopg.Connection, relation: str, columns: list[str],
                 algorithm: str = TYPED) -> dict[str, str]:
    """Column → how it is hashed: `text` (no stable typed hash: `text_hashed`), `typed`, and
    under typed2 the forms that see what a typed hash calls equal: `dims` (an array with its
    bounds: `[0:1]={x,y}` is not `{x,y}`, `{{1,2},{3,4}}` not `{1,2,3,4}`), `bits4`/`bits8`
    (a float's exact bits: -0 is not 0), `text` for an unconstrained numeric (1.0 is not
    1.00)."""
    as_text = text_hashed(conn, relation, columns)
    forms = {c: "text" if c in as_text else "typed" for c in columns}
    if algorithm == TYPED1:
        return forms
    rows = conn.execute(
        """select a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory
             from pg_attribute a join pg_type t on t.oid = a.atttypid
            where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped""",
        (relation,)).fetchall()
    for name, kind, category in rows:
        if name not in forms or forms[name] == "text":
            continue
        if kind == "numeric" or kind == "numeric[]":
            forms[name] = "text"
        elif category == "A":
            forms[name] = "dims"
        elif kind == "double precision":
            forms[name] = "bits8"
        elif kind == "real":
            forms[name] = "bits4"
    return forms


def merge_forms(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    """Two connections' forms for the same columns: text wins (both must hash alike)."""
    return {c: "text" if "text" in (a.get(c), b.get(c)) else b.get(c) or a[c]
            for c in {*a, *b}}


_FORMS = {"typed": "{}", "text": "{}::text", "dims": "{0}, array_dims({0})",
          "bits8": "float8send({})", "bits4": "float4send({})"}


def hash_expression(columns: list[str], forms: dict[str, str],
                    alias: str = ALIAS) -> sql.Composable:
    """`hash_record_extended(row(<columns in their forms>), 0)`."""
    parts = [sql.SQL(_FORMS[forms.get(c, "typed")]).format(
        sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(c))) for c in columns]
    return sql.SQL("hash_record_extended(row({}), 0)").format(sql.SQL(", ").join(parts))


def text_hashed(conn: psycopg.Connection, relation: str, columns: list[str]) -> set[str]:
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
        (relation, FIRST_USER_OID, relation)).fetchall()
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


def of_rows(conn: psycopg.Connection, relation: sql.Composable, hashed: sql.Composable,
            where: sql.Composable | None = None) -> Fingerprint:
    """Fingerprint of `relation`'s rows (alias `ALIAS` in `where` and `hashed`)."""
    row = conn.execute(sql.SQL("select count(*), coalesce(sum({}), 0) from {} {} where {}").format(
        hashed, relation, sql.Identifier(ALIAS), where or sql.SQL("true"))).fetchone()
    return Fingerprint(int(row[0]), int(row[1]))


def of_table(conn: psycopg.Connection, table: str, columns: list[str],
             where: sql.Composable | None = None, *, relation: sql.Composable | None = None,
             types: str | None = None, algorithm: str = TYPED) -> Fingerprint:
    """The fingerprint of `columns` of `table`'s rows where `where` holds (alias `ALIAS`), in
    the caller's transaction: `relation` and `types` name a stand-in (a temporary table the
    rows were loaded into) when not the table itself. `TEXT` reproduces the checksum of
    archives and backups written before the engine (the row's text, the session's text forms
    pinned as they were)."""
    pin_session(conn, local=True)
    relation = relation or ident(table)
    if algorithm == TEXT:
        source = sql.SQL("(select {} from {} {} where {})").format(
            sql.SQL(", ").join(sql.SQL("{}.{}").format(sql.Identifier(ALIAS), sql.Identifier(c))
                               for c in columns),
            relation, sql.Identifier(ALIAS), where or sql.SQL("true"))
        row = conn.execute(sql.SQL("select count(*), coalesce(sum(hashtextextended(t::text, 0)),"
                                   " 0) from {} t").format(source)).fetchone()
        return Fingerprint(int(row[0]), int(row[1]), TEXT)
    if algorithm not in (TYPED, TYPED1):
        raise MoveError(f"{table}: fingerprint algorithm {algorithm!r} is unknown to this "
                        "version of persys; upgrade persys to read this archive")
    hashed = row_hash([conn], table, columns, relation=types, algorithm=algorithm)
    return of_rows(conn, relation, hashed, where)


def source_fingerprint(source: PgTier, snapshot_id: str, table: str, taken: sql.Composable,
                       hashed: sql.Composable) -> Fingerprint:
    """Count and checksum of the copied rows in the copy's own (exported) snapshot, on a
    connection of its own so it runs while the copy streams."""
    with source.connect() as conn:
        pin_session(conn)
        in_snapshot(conn, snapshot_id)
        out = snapshot_fingerprint(conn, table, taken, hashed)
        conn.rollback()
    return out


def snapshot_fingerprint(conn: psycopg.Connection, table: str, taken: sql.Composable,
                         hashed: sql.Composable) -> Fingerprint:
    """`source_fingerprint`'s query in `conn`'s current (REPEATABLE READ) transaction."""
    return of_rows(conn, ident(table), hashed, taken)


def dest_fingerprint(dst: psycopg.Connection, table: str, mine: sql.Composable,
                     hashed: sql.Composable) -> Fingerprint:
    """Count and checksum of the rows main's open transaction wrote (`mine`)."""
    return of_rows(dst, ident(table), hashed, mine)


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

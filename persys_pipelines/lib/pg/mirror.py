"""Main's copy of a table, made from core's definition, and the check that both still match.

A move never casts silently: the destination has the same columns, in the same order, with the
same types, or the move stops with a `SchemaMismatch` naming the table, the column and both
types.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..errors import MoveError
from .schema import primary_key, table_columns, table_exists


class SchemaMismatch(MoveError):
    """The table differs between tiers; the message names the table, column and both types."""


@dataclass(frozen=True)
class TableShape:
    columns: dict[str, str]  # name → formatted type, in table order
    primary_key: list[str]


def table_shape(conn: psycopg.Connection, table: str) -> TableShape:
    return TableShape(table_columns(conn, table), primary_key(conn, table))


def check_same_shape(
    table: str, source: TableShape, dest: TableShape, src_name: str, dst_name: str
) -> None:
    """Same columns, same order, same types — a difference is an error, never a silent cast."""
    s_cols, d_cols = list(source.columns.items()), list(dest.columns.items())
    for i in range(max(len(s_cols), len(d_cols))):
        s = s_cols[i] if i < len(s_cols) else None
        d = d_cols[i] if i < len(d_cols) else None
        if s == d:
            continue
        where = f"table {table}, column {i + 1}"
        s_text = f"{s[0]} {s[1]}" if s else "(none)"
        d_text = f"{d[0]} {d[1]}" if d else "(none)"
        raise SchemaMismatch(
            f"{where}: {src_name} has {s_text!r} but {dst_name} has {d_text!r}. Make the "
            f"{dst_name} table match {src_name} (same columns, order and types), or drop the "
            f"empty {dst_name} table so the next move creates it from {src_name}'s definition"
        )
    if not source.primary_key:
        raise SchemaMismatch(
            f"table {table} has no primary key in {src_name}; a move needs one to verify and "
            f"to skip rows already copied. Add one (e.g. `alter table {table} add primary key "
            "(id)`)"
        )


def create_like(
    src: psycopg.Connection, dst: psycopg.Connection, table: str, day_column: str
) -> None:
    """Create `table` at `dst` from its definition at `src`: columns, types, NOT NULL, plain
    defaults, primary key, and an index on the day column."""
    rows = src.execute(
        """select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(d.adbin, d.adrelid)
             from pg_attribute a
             left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
            where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped
            order by a.attnum""",
        (f"public.{table}",),
    ).fetchall()
    parts = []
    for name, kind, notnull, default in rows:
        col = sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))
        if notnull:
            col = sql.SQL("{} not null").format(col)
        if default and "nextval(" not in default:  # the source's sequence does not exist here
            col = sql.SQL("{} default {}").format(col, sql.SQL(default))
        parts.append(col)
    pk = table_shape(src, table).primary_key
    if pk:
        parts.append(sql.SQL("primary key ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, pk))))
    with dst.transaction():
        dst.execute(sql.SQL("create table if not exists {} ({})").format(
            sql.Identifier(table), sql.SQL(", ").join(parts)))
        dst.execute(sql.SQL("create index if not exists {} on {} ({})").format(
            sql.Identifier(f"{table}_{day_column}_idx"), sql.Identifier(table),
            sql.Identifier(day_column)))


def ensure_destination(
    src: psycopg.Connection, dst: psycopg.Connection, table: str, day_column: str,
    src_name: str, dst_name: str,
) -> TableShape:
    """The destination table exists and matches the source; returns the source's shape."""
    if not table_exists(src, table):
        raise MoveError(f"table {table} does not exist in {src_name}; create it or drop "
                        f"tables.{table} from persys.yaml")
    if not table_exists(dst, table):
        create_like(src, dst, table, day_column)
    source = table_shape(src, table)
    check_same_shape(table, source, table_shape(dst, table), src_name, dst_name)
    return source




def copy_columns(conn: psycopg.Connection, table: str) -> list[str]:
    """The columns a move writes into `table` (in table order): all but the generated ones,
    which the destination computes itself."""
    rows = conn.execute(
        """select attname from pg_attribute
            where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped
              and attgenerated = ''
            order by attnum""", (f"public.{table}",)).fetchall()
    return [r[0] for r in rows]

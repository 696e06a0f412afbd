"""Main's copy of a table, made from core's definition, and the check that both still match.

Core is the person's database (often Supabase), so its tables carry things main must not or
cannot have. Main's table gets the same columns in the same order with the same types (binary
COPY needs identical types), and:

- identity columns become plain columns: main never makes ids, COPY writes core's values;
- a stored generated column stays generated when main can evaluate its expression, else it
  is a plain column holding the values core computed;
- enums and domains are created in main from core's definitions (`mirror_types`);
- a default main cannot make (it calls `auth.uid()` or another function main lacks, or a
  sequence of core's) is left out: main never inserts rows of its own;
- no foreign key is recreated (rows of parent and child move on different days, and
  `auth`/`storage` are not in main); RLS policies, grants, triggers and publications stay in
  core. Main's table is private (`private.protect`: RLS on, nothing for the client roles).
  Core is only ever read.

Every such choice is one line in the notes `create_like` returns (and `ensure_destination`
logs). A column added later at the end of core's table is added to main's; any other
difference is a `SchemaMismatch` naming the table, the column and both types.

The mover must COPY only `copy_columns(main, table)` on both sides: binary COPY into a table
with a generated column fails unless that column is left out of the column list.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..errors import MoveError
from .catalog import ident, regclass, table_exists
from .mirror_types import REFUSED, ensure_types
from .private import protect
from .shape import SchemaMismatch, TableShape, added_columns, check_same_shape, table_shape

__all__ = ["SchemaMismatch", "TableShape", "check_same_shape", "copy_columns", "create_like",
           "ensure_destination", "table_shape"]

log = logging.getLogger(__name__)
PROBE = "persys_mirror_probe"


@dataclass(frozen=True)
class Column:
    """One column of core's table as pg_attribute/pg_attrdef describe it."""

    name: str
    type: str  # format_type(), e.g. `numeric(12,2)`, `mood_level`, `text[]`
    notnull: bool
    default: str | None  # a plain default's expression
    generated: str | None  # a stored generated column's expression
    identity: bool


def source_columns(conn: psycopg.Connection, table: str) -> list[Column]:
    """Core's columns in table order, with defaults, generation expressions and identity."""
    rows = conn.execute(
        """select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(d.adbin, d.adrelid), a.attgenerated = 's', a.attidentity <> ''
             from pg_attribute a
             left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
            where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped
            order by a.attnum""",
        (regclass(table),),
    ).fetchall()
    return [Column(name, kind, notnull, None if gen else expr, expr if gen else None, ident)
            for name, kind, notnull, expr, gen, ident in rows]


def copy_columns(conn: psycopg.Connection, table: str) -> list[str]:
    """The columns a move COPYs, in table order: every column not GENERATED in `conn`'s table.

    Call it on main's connection after `ensure_destination`, and use the list on both sides:
    `copy (select <cols> from t where ...) to stdout` at core and `copy t (<cols>) from stdin`
    at main (and in `insert into t (<cols>) select <cols> from stage`). Main computes its
    generated columns itself; one main could not make generated is plain there and copied.
    """
    rows = conn.execute(
        """select attname from pg_attribute
            where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped
              and attgenerated = ''
            order by attnum""",
        (regclass(table),),
    ).fetchall()
    if not rows:
        raise MoveError(f"table {table} does not exist (or has no columns) where it is copied to")
    return [r[0] for r in rows]


def _plain(col: Column) -> sql.Composable:
    return sql.SQL("{} {}").format(sql.Identifier(col.name), sql.SQL(col.type))


def _full(col: Column, *, generated: bool, default: bool, notnull: bool) -> sql.Composable:
    """`col`'s definition in main with the parts main keeps."""
    out = _plain(col)
    if generated and col.generated:
        out = sql.SQL("{} generated always as ({}) stored").format(out, sql.SQL(col.generated))
    if default and col.default:
        out = sql.SQL("{} default {}").format(out, sql.SQL(col.default))
    if notnull and col.notnull:
        out = sql.SQL("{} not null").format(out)
    return out


def _main_can(dst: psycopg.Connection, columns: list[Column], col: Column, **part: bool) -> bool:
    """Whether main accepts `col`'s default or generation expression: a scratch temp table
    (in a savepoint, always rolled back) with `col` that way and the other columns plain."""
    parts = [_full(c, notnull=False, **part) if c is col else _plain(c) for c in columns]
    statement = sql.SQL("create temp table {} ({})").format(
        sql.Identifier(PROBE), sql.SQL(", ").join(parts))
    try:
        with dst.transaction(force_rollback=True):
            dst.execute(statement)
        return True
    except REFUSED:
        return False


def main_parts(dst: psycopg.Connection, table: str, columns: list[Column], col: Column,
               notes: list[str]) -> tuple[bool, bool]:
    """Whether main keeps `col` (generated, default) as core has it; each change is noted."""
    where = f"{table}.{col.name}"
    generated = bool(col.generated) and _main_can(dst, columns, col, generated=True,
                                                  default=False)
    if col.generated and not generated:
        notes.append(f"{where}: generated in core as ({col.generated}), which main cannot "
                     "evaluate; a plain column in main holding core's values")
    if col.identity:
        notes.append(f"{where}: identity in core, a plain column in main (COPY writes the ids)")
    default = bool(col.default) and "nextval(" not in col.default and _main_can(
        dst, columns, col, generated=False, default=True)
    if col.default and not default:
        notes.append(f"{where}: default {col.default} left out in main (main lacks what it "
                     "calls; main never inserts rows itself)")
    return generated, default


def main_column(dst: psycopg.Connection, table: str, columns: list[Column], col: Column,
                notes: list[str]) -> sql.Composable:
    """`col`'s definition in main (see the module docstring)."""
    generated, default = main_parts(dst, table, columns, col, notes)
    return _full(col, generated=generated, default=default, notnull=True)


def foreign_key_notes(src: psycopg.Connection, table: str) -> list[str]:
    """One line per foreign key of core's table: none is recreated in main."""
    rows = src.execute(
        """select conname, confrelid::regclass::text from pg_constraint
            where conrelid = to_regclass(%s) and contype = 'f' order by conname""",
        (regclass(table),),
    ).fetchall()
    return [f"{table}: foreign key {name} → {target} not recreated in main (rows move by "
            "day, and main holds no auth/storage schemas)" for name, target in rows]


def create_like(
    src: psycopg.Connection, dst: psycopg.Connection, table: str, day_column: str
) -> list[str]:
    """Create `table` at `dst` from its definition at `src` (see the module docstring): the
    types it uses, columns, NOT NULL, the defaults main can make, the primary key, and an index
    on the day column. Returns the notes: what main's table does differently and why."""
    notes = ensure_types(src, dst, table)
    columns = source_columns(src, table)
    parts = [main_column(dst, table, columns, c, notes) for c in columns]
    pk = table_shape(src, table).primary_key
    if pk:
        parts.append(sql.SQL("primary key ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, pk))))
    with dst.transaction():
        dst.execute(sql.SQL("create table if not exists {} ({})").format(
            ident(table), sql.SQL(", ").join(parts)))
        dst.execute(sql.SQL("create index if not exists {} on {} ({})").format(
            sql.Identifier(f"{table}_{day_column}_idx"), ident(table),
            sql.Identifier(day_column)))
        protect(dst, table)  # a main on Supabase: its default privileges must not expose it
    notes.append(f"created {table} in main from core's definition")
    return notes + foreign_key_notes(src, table)


def add_columns(src: psycopg.Connection, dst: psycopg.Connection, table: str,
                names: list[str]) -> list[str]:
    """`ALTER TABLE ... ADD COLUMN` in main for columns core gained at the end of its table.

    NOT NULL is kept when main's table is empty or main keeps a default to fill its rows;
    otherwise main's older rows would have no value, so the column is nullable there (noted).
    """
    notes: list[str] = []
    columns = source_columns(src, table)
    has_rows = dst.execute(sql.SQL("select exists (select from {})").format(
        ident(table))).fetchone()[0]
    for col in (c for c in columns if c.name in names):
        generated, default = main_parts(dst, table, columns, col, notes)
        notnull = not has_rows or generated or default  # else main's older rows have no value
        dst.execute(sql.SQL("alter table {} add column {}").format(
            ident(table),
            _full(col, generated=generated, default=default, notnull=notnull)))
        if col.notnull and not notnull:
            notes.append(f"{table}.{col.name}: NOT NULL in core, nullable in main (main's "
                         "older rows have no value for it)")
        notes.append(f"added column {table}.{col.name} {col.type} in main (new in core)")
    return notes


def ensure_destination(
    src: psycopg.Connection, dst: psycopg.Connection, table: str, day_column: str,
    src_name: str, dst_name: str, notes: list[str] | None = None,
) -> TableShape:
    """The destination table exists and matches the source; returns the source's shape.

    Creates main's table (or adds columns new in core, or enum labels new in core) as the module
    docstring says; what it did is appended to `notes` and logged. When it changed main's
    schema it commits `dst`, so the copy that follows can use new enum labels (PostgreSQL
    refuses a label added in the same transaction). Core is only read.
    """
    if not table_exists(src, table):
        raise MoveError(f"table {table} does not exist in {src_name}; create it or drop "
                        f"tables.{table} from persys.yaml")
    done = ensure_types(src, dst, table)
    if not table_exists(dst, table):
        done += create_like(src, dst, table, day_column)
    source = table_shape(src, table)
    new = added_columns(source, table_shape(dst, table))
    if new:
        done += add_columns(src, dst, table, new)
    check_same_shape(table, source, table_shape(dst, table), src_name, dst_name)
    if done and not dst.autocommit:
        dst.commit()
    for line in done:
        log.info("%s → %s: %s", src_name, dst_name, line)
    if notes is not None:
        notes.extend(done)
    return source

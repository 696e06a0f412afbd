"""The enums and domains a table's columns use, made in main from core's definitions.

Binary COPY sends an enum as its label and a domain as its base type, and main's column must
have the very same type, so main needs each type under the same schema and name: an enum with
the same labels in the same order, a domain over the same base type with the same
constraints. Labels core added later (`alter type ... add value`) are added in main at the
same place. Anything else (a composite or range type, an extension's type, an enum whose
labels contradict core's) is a `SchemaMismatch` that says what to create in main.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from .catalog import regclass
from .shape import SchemaMismatch

BUILTIN_SCHEMAS = ("pg_catalog", "information_schema")
# What PostgreSQL answers to a definition it cannot make here (a missing function or schema, a
# wrong type); a lost connection is none of these and propagates.
REFUSED = (psycopg.errors.ProgrammingError, psycopg.errors.DataError,
           psycopg.errors.NotSupportedError, psycopg.errors.IntegrityError)


@dataclass(frozen=True)
class TypeInfo:
    oid: int
    schema: str
    name: str
    kind: str  # pg_type.typtype: e enum, d domain, c composite, r range, b base, m multirange
    extension: str | None

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def ident(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.name)


TYPE_QUERY = """
select t.oid, n.nspname, t.typname, t.typtype,
       (select e.extname from pg_depend d join pg_extension e on e.oid = d.refobjid
         where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e')
  from pg_type t join pg_namespace n on n.oid = t.typnamespace
"""


def column_types(conn: psycopg.Connection, table: str) -> list[TypeInfo]:
    """User-defined types of `table`'s columns (array columns by their element type)."""
    rows = conn.execute(
        TYPE_QUERY + """
         where t.oid in (select case when ct.typcategory = 'A' then ct.typelem else ct.oid end
                           from pg_attribute a join pg_type ct on ct.oid = a.atttypid
                          where a.attrelid = to_regclass(%s) and a.attnum > 0
                            and not a.attisdropped)
           and n.nspname <> all(%s)
         order by t.oid""",
        (regclass(table), list(BUILTIN_SCHEMAS)),
    ).fetchall()
    return [TypeInfo(*r) for r in rows]


def _type_by_oid(conn: psycopg.Connection, oid: int) -> TypeInfo | None:
    row = conn.execute(TYPE_QUERY + " where t.oid = %s and n.nspname <> all(%s)",
                       (oid, list(BUILTIN_SCHEMAS))).fetchone()
    return TypeInfo(*row) if row else None


def _type_by_name(conn: psycopg.Connection, schema: str, name: str) -> TypeInfo | None:
    row = conn.execute(TYPE_QUERY + " where n.nspname = %s and t.typname = %s",
                       (schema, name)).fetchone()
    return TypeInfo(*row) if row else None


def ensure_types(src: psycopg.Connection, dst: psycopg.Connection, table: str) -> list[str]:
    """Make every enum and domain `table` uses exist in `dst` as it is in `src`; returns what
    was done (one line each), [] when main already had them all."""
    notes: list[str] = []
    for info in column_types(src, table):
        ensure_type(src, dst, info, table, notes)
    return notes


def ensure_type(src: psycopg.Connection, dst: psycopg.Connection, info: TypeInfo, table: str,
                notes: list[str]) -> None:
    """One type (and, for a domain, the types it is built on) in `dst`, or a SchemaMismatch."""
    have = _type_by_name(dst, info.schema, info.name)
    if have is not None and have.kind != info.kind:
        raise SchemaMismatch(
            f"table {table}: type {info.qualified} is a {_KINDS.get(info.kind, info.kind)} in "
            f"core but a {_KINDS.get(have.kind, have.kind)} in main; drop or rename main's "
            "type (no table in main may still use it) so the next move creates it from core's")
    if info.kind == "e":
        _ensure_enum(src, dst, info, have is not None, table, notes)
    elif info.kind == "d":
        if have is None:
            _create_domain(src, dst, info, table, notes)
        else:
            _check_domain(src, dst, info, table)
    elif have is None:
        raise SchemaMismatch(_missing_type_message(info, table))


_KINDS = {"e": "enum", "d": "domain", "c": "composite type", "r": "range type",
          "b": "base type", "m": "multirange type"}


def _missing_type_message(info: TypeInfo, table: str) -> str:
    if info.extension:
        return (f"table {table} uses type {info.qualified} from extension {info.extension}, "
                f"which main lacks; run `create extension {info.extension}` in main "
                "(as a superuser or the database owner) and move again")
    return (f"table {table} uses {_KINDS.get(info.kind, 'type')} {info.qualified}, which main "
            "lacks and persys does not copy; create it in main with the same definition as "
            "in core and move again")


def _labels(conn: psycopg.Connection, schema: str, name: str) -> list[str]:
    rows = conn.execute(
        """select e.enumlabel from pg_enum e
             join pg_type t on t.oid = e.enumtypid join pg_namespace n on n.oid = t.typnamespace
            where n.nspname = %s and t.typname = %s order by e.enumsortorder""",
        (schema, name)).fetchall()
    return [r[0] for r in rows]


def _ensure_enum(src: psycopg.Connection, dst: psycopg.Connection, info: TypeInfo,
                 exists: bool, table: str, notes: list[str]) -> None:
    """Create the enum, or add the labels core gained since, each at its place in the order."""
    labels = _labels(src, info.schema, info.name)
    if not exists:
        dst.execute(sql.SQL("create schema if not exists {}").format(
            sql.Identifier(info.schema)))
        dst.execute(sql.SQL("create type {} as enum ({})").format(
            info.ident(), sql.SQL(", ").join(map(sql.Literal, labels))))
        notes.append(f"created enum {info.qualified} in main ({len(labels)} labels)")
        return
    have = _labels(dst, info.schema, info.name)
    if [x for x in labels if x in have] != have:
        raise SchemaMismatch(
            f"table {table}: enum {info.qualified} has labels {labels} in core but {have} in "
            "main; main's labels must be core's, in core's order. Fix main's type (`alter "
            "type ... rename value` / add value), or drop it while no table in main uses it")
    for i, label in enumerate(labels):
        if label in have:
            continue
        later = next((x for x in labels[i + 1:] if x in have), None)
        place = (sql.SQL(" before {}").format(sql.Literal(later)) if later
                 else sql.SQL(""))
        dst.execute(sql.SQL("alter type {} add value {}{}").format(
            info.ident(), sql.Literal(label), place))
        have.insert(have.index(later) if later else len(have), label)
        notes.append(f"added label {label!r} to enum {info.qualified} in main")


def _domain_definition(conn: psycopg.Connection, oid: int) -> tuple[int, str, bool, str | None,
                                                                    list[tuple[str, str]]]:
    """(base type oid, base type text, not null, default text, [(constraint, check)])."""
    base, base_text, notnull, default = conn.execute(
        """select typbasetype, format_type(typbasetype, typtypmod), typnotnull, typdefault
             from pg_type where oid = %s""", (oid,)).fetchone()
    checks = conn.execute(
        """select conname, pg_get_constraintdef(oid) from pg_constraint
            where contypid = %s and contype = 'c' order by conname""", (oid,)).fetchall()
    return base, base_text, notnull, default, [tuple(c) for c in checks]


def _create_domain(src: psycopg.Connection, dst: psycopg.Connection, info: TypeInfo,
                   table: str, notes: list[str]) -> None:
    """CREATE DOMAIN with core's base type, NOT NULL and checks; a default main cannot make
    (it calls a function main lacks) is left out and said."""
    base, base_text, notnull, default, checks = _domain_definition(src, info.oid)
    base_info = _type_by_oid(src, _element(src, base))
    if base_info is not None:
        ensure_type(src, dst, base_info, table, notes)
    dst.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(info.schema)))
    body = sql.SQL(" ").join(
        [sql.SQL("not null")] * notnull
        + [sql.SQL("constraint {} {}").format(sql.Identifier(n), sql.SQL(c)) for n, c in checks])
    statement = sql.SQL("create domain {} as {} {}").format(info.ident(), sql.SQL(base_text), body)
    if default is not None and try_in_savepoint(dst, sql.SQL("{} default {}").format(
            statement, sql.SQL(default))):
        notes.append(f"created domain {info.qualified} in main")
        return
    if not try_in_savepoint(dst, statement):
        raise SchemaMismatch(
            f"table {table}: domain {info.qualified} (as {base_text} {body.as_string(dst)}) "
            "cannot be created in main (its check calls something main lacks); create it in "
            "main yourself, with the same base type, and move again")
    dropped = f", without its default {default} (main lacks what it calls)" if default else ""
    notes.append(f"created domain {info.qualified} in main{dropped}")


def _check_domain(src: psycopg.Connection, dst: psycopg.Connection, info: TypeInfo,
                  table: str) -> None:
    """An existing domain in main must stand on the same base type (COPY sends the base)."""
    core_base = _domain_definition(src, info.oid)[1]
    have = _type_by_name(dst, info.schema, info.name)
    main_base = _domain_definition(dst, have.oid)[1] if have else None
    if core_base != main_base:
        raise SchemaMismatch(
            f"table {table}: domain {info.qualified} is over {core_base} in core but over "
            f"{main_base} in main; recreate main's domain as `create domain {info.qualified} "
            f"as {core_base} ...` while no table in main uses it")


def _element(conn: psycopg.Connection, oid: int) -> int:
    row = conn.execute("select case when typcategory = 'A' then typelem else oid end "
                       "from pg_type where oid = %s", (oid,)).fetchone()
    return int(row[0])


def try_in_savepoint(conn: psycopg.Connection, statement: sql.Composable) -> bool:
    """Run `statement` in a savepoint; False (and nothing done) when PostgreSQL refuses it."""
    try:
        with conn.transaction():
            conn.execute(statement)
        return True
    except REFUSED:
        return False

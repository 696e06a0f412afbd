"""The one place that reads PostgreSQL's catalog, and where persys's own objects live.

Persys owns one schema, `persys`, in core and main (DESIGN invariant 8): its ledger, pins,
monitoring tables and its outputs (daily summaries, projections, voice records) live there,
with row level security on and nothing granted to `anon`, `authenticated` or `PUBLIC`; the
schema itself grants no USAGE to anyone but its owner. The person's tables stay where they
are, in `public`. Every name a mover handles is qualified by `ident` / `regclass`, so no
search_path (Supabase's or an attacker's table in `public`) decides which table is meant.

A table is named as in persys.yaml (`daily_summaries`, `journal`); its month partitions are
`<table>_pYYYY_MM` and `<table>_pdefault` in the same schema.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

PERSYS_SCHEMA = "persys"
# persys's outputs: tiered like the person's tables, but persys's own (schema `persys`)
OWN_TABLES = ("daily_summaries", "daily_projections", "voice_messages", "weekly_correlations")
# Roles Supabase hands out to every client app (the anon key ships in the app)
CLIENT_ROLES = ("anon", "authenticated")
_PARTITION_SUFFIX = re.compile(r"_p(\d{4}_\d{2}|default)$")
# Before the schema existed these lived in `public` under these names.
LEGACY_NAMES = {
    "persys_ledger": "ledger", "persys_pins": "pins", "persys_usage": "usage",
    "persys_health_checks": "health_checks", "incidents": "incidents",
    "persys_costs": "costs", "persys_notifications": "notifications",
}


def schema_of(table: str) -> str:
    """`persys` for persys's own tables (and their partitions), else `public`; a name given as
    `schema.table` keeps its schema."""
    if "." in table:
        return table.split(".", 1)[0]
    return PERSYS_SCHEMA if _PARTITION_SUFFIX.sub("", table) in OWN_TABLES else "public"


def bare(table: str) -> str:
    return table.split(".", 1)[1] if "." in table else table


def ident(table: str) -> sql.Identifier:
    """The table (or partition) as a schema-qualified identifier."""
    return sql.Identifier(schema_of(table), bare(table))


def regclass(table: str) -> str:
    """Text for `to_regclass(%s)` / `%s::regclass`: qualified and quoted."""
    return f'"{schema_of(table)}"."{bare(table)}"'


def table_exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("select to_regclass(%s) is not null", (regclass(name),)).fetchone()
    return bool(row[0])


def primary_key(conn: psycopg.Connection, name: str) -> list[str]:
    """The primary key's columns in key order ([] when the table has none)."""
    rows = conn.execute(
        """select a.attname
             from pg_index i
             join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
            where i.indrelid = to_regclass(%s) and i.indisprimary
            order by array_position(i.indkey::int2[], a.attnum)""",
        (regclass(name),),
    ).fetchall()
    return [r[0] for r in rows]


def table_columns(conn: psycopg.Connection, name: str) -> dict[str, str]:
    """Column name → formatted type (e.g. `numeric(12,2)`, `text[]`), in table order."""
    rows = conn.execute(
        """select a.attname, format_type(a.atttypid, a.atttypmod)
             from pg_attribute a
            where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped
            order by a.attnum""",
        (regclass(name),),
    ).fetchall()
    return dict(rows)


def generated_columns(conn: psycopg.Connection, name: str) -> set[str]:
    """Stored generated columns: PostgreSQL computes them, no statement may write them."""
    rows = conn.execute("select attname from pg_attribute where attrelid = to_regclass(%s) "
                        "and attnum > 0 and not attisdropped and attgenerated <> ''",
                        (regclass(name),)).fetchall()
    return {r[0] for r in rows}


def stored_columns(conn: psycopg.Connection, name: str) -> list[str]:
    """Columns a statement writes (not generated), in table order."""
    generated = generated_columns(conn, name)
    return [c for c in table_columns(conn, name) if c not in generated]


def has_triggers_or_rules(conn: psycopg.Connection, table: str) -> bool:
    """A user trigger on the table or on one of its partitions, or a rule on it: what could
    store something else than the statement wrote."""
    return bool(conn.execute(
        """select exists (select 1 from pg_trigger t
                           where not t.tgisinternal and (t.tgrelid = to_regclass(%(t)s)
                              or t.tgrelid in (select inhrelid from pg_inherits
                                                where inhparent = to_regclass(%(t)s))))
               or exists (select 1 from pg_rewrite r
                           where r.ev_class = to_regclass(%(t)s) and r.rulename <> '_RETURN')""",
        {"t": regclass(table)}).fetchone()[0])


def delete_triggers(conn: psycopg.Connection, tables: list[str], *,
                    always_only: bool = False) -> list[str]:
    """Names of the user triggers that fire on DELETE on any of `tables`; `always_only`: only
    those set ENABLE ALWAYS (replica mode does not stop them), internal ones included."""
    which = ("tgenabled = 'A'" if always_only else "not tgisinternal")
    rows = conn.execute(sql.SQL(
        "select distinct tgname from pg_trigger where tgrelid in "
        "(select to_regclass(t) from unnest(%s::text[]) t) "
        "and {} and (tgtype & 8) <> 0 order by 1").format(sql.SQL(which)),
        ([regclass(t) for t in tables],)).fetchall()
    return [r[0] for r in rows]


def schemas_like(conn: psycopg.Connection, pattern: str) -> list[str]:
    """Schema names matching a LIKE pattern, in order."""
    return [r[0] for r in conn.execute(
        "select nspname from pg_namespace where nspname like %s order by 1", (pattern,))]


def constraint_validated(conn: psycopg.Connection, relation: str, name: str) -> bool | None:
    """Whether a constraint of `relation` (regclass text) is validated; None: no such one."""
    row = conn.execute("select convalidated from pg_constraint where conname = %s and "
                       "conrelid = to_regclass(%s)", (name, relation)).fetchone()
    return None if row is None else bool(row[0])


def columns_referencing(conn: psycopg.Connection, table: str, target: str) -> list[str]:
    """The table's single-column foreign keys to `target` (both qualified or public): their
    columns, in order."""
    return [r[0] for r in conn.execute(
        """select a.attname from pg_constraint k
             join pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
            where k.contype = 'f' and k.conrelid = to_regclass(%s)
              and k.confrelid = to_regclass(%s) and array_length(k.conkey, 1) = 1
            order by 1""", (regclass(table), regclass(target)))]


def writes_elsewhere(conn: psycopg.Connection, table: str, key: str) -> list[str]:
    """Why a row written into `table` could be checked or changed by more than its columns'
    defaults, generated columns and CHECK constraints: its identity columns (their sequence),
    foreign keys out of it, unique indexes that do not hold the column `key` (rows of other
    keys can clash on them), exclusion constraints, triggers and rules (empty: none)."""
    row = conn.execute(
        """select array(select 'identity column ' || attname from pg_attribute
                          where attrelid = c.oid and attidentity <> '' and not attisdropped)
                  || array(select 'foreign key ' || conname from pg_constraint
                            where conrelid = c.oid and contype = 'f')
                  || array(select 'unique index ' || x.relname from pg_index i
                             join pg_class x on x.oid = i.indexrelid
                            where i.indrelid = c.oid and (i.indisexclusion or i.indisunique
                              and not (select attnum from pg_attribute
                                        where attrelid = c.oid and attname = %s)
                                      = any(i.indkey))
                            order by x.relname)
             from pg_class c where c.oid = to_regclass(%s)""", (key, regclass(table))).fetchone()
    found = list(row[0]) if row else []
    return found + (["a trigger or rule"] if has_triggers_or_rules(conn, table) else [])


def role_settings(conn: psycopg.Connection, roles: list[str], setting: str
                  ) -> list[tuple[str, str]]:
    """(role, value) of a setting the roles have by `ALTER ROLE … SET`, by role name."""
    return [(r, v) for r, v in conn.execute(
        """select r.rolname, s.setting from pg_roles r
             join lateral (select split_part(c, '=', 2) as setting
                             from pg_db_role_setting d, unnest(d.setconfig) c
                            where d.setrole = r.oid and c like %s) s on true
            where r.rolname = any(%s) order by 1""", (f"{setting}=%", roles)).fetchall()]


# Type names `table_columns` gives (format_type) for the day types a query reports by oid.
_DAY_TYPES_BY_OID = {1082: "date", 1114: "timestamp without time zone",
                     1184: "timestamp with time zone"}


def query_columns(conn: psycopg.Connection, name: str) -> dict[str, str] | None:
    """Column name → type as a query of the table sees them (None: no such table), in table
    order, from `select * … where false`. On a new connection this costs about nothing that
    the day's query after it would not pay anyway (the server loads the table's description
    once), where a catalog query costs a millisecond more. (`where false`, not `limit 0`: the
    planner then opens none of a partitioned table's partitions, which `limit 0` costs 3 ms
    for 36 months; and it works for a view too.) Date and timestamp types are named
    as `table_columns` names them; others as psycopg displays them (a domain: its base type).
    Call it in autocommit: a missing table is an error on the server."""
    try:
        cur = conn.execute(sql.SQL("select * from {} where false").format(ident(name)))
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
        return None
    return {d.name: _DAY_TYPES_BY_OID.get(d.type_code, d.type_display)
            for d in cur.description or []}


def is_partitioned(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute("select relkind = 'p' from pg_class where oid = to_regclass(%s)",
                       (regclass(table),)).fetchone()
    return bool(row and row[0])


def partitions(conn: psycopg.Connection, table: str) -> list[str]:
    """Names of the table's direct partitions (same schema as the table)."""
    rows = conn.execute(
        """select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
            where i.inhparent = to_regclass(%s)""", (regclass(table),)).fetchall()
    return [r[0] for r in rows]


def client_roles(conn: psycopg.Connection) -> list[str]:
    """Supabase's client roles that exist in this database."""
    rows = conn.execute("select rolname from pg_roles where rolname = any(%s)",
                        (list(CLIENT_ROLES),)).fetchall()
    return [r[0] for r in rows]


def domain_bases(conn: psycopg.Connection, name: str) -> dict[str, str]:
    """Columns typed by a domain (or an array of one) → the base type, formatted as
    `table_columns` formats types (`integer`, `numeric(5,2)[]`): what the domain's values
    are stored and read as. Columns of other types are not listed."""
    rows = conn.execute(
        """with recursive chain(attname, typ, mod, arr, depth) as (
             select a.attname,
                    case when t.typcategory = 'A' and t.typelem <> 0 then t.typelem
                         else a.atttypid end,
                    a.atttypmod, t.typcategory = 'A' and t.typelem <> 0, 0
               from pg_attribute a join pg_type t on t.oid = a.atttypid
              where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped
             union all
             select c.attname, t.typbasetype, t.typtypmod, c.arr, c.depth + 1
               from chain c join pg_type t on t.oid = c.typ
              where t.typtype = 'd')
           select distinct on (attname) attname, format_type(typ, mod) || case when arr
                  then '[]' else '' end, depth
             from chain order by attname, depth desc""",
        (regclass(name),)).fetchall()
    return {n: base for n, base, depth in rows if depth > 0}

"""persys's own schema, private (DESIGN invariant 8): `persys` in core and main, row level
security on every table, nothing granted to `anon`, `authenticated` or `PUBLIC`, no USAGE on
the schema for anyone but its owner; what an older version made in `public` is moved in."""

from __future__ import annotations

import psycopg
from psycopg import sql

from .catalog import (
    LEGACY_NAMES,
    OWN_TABLES,
    PERSYS_SCHEMA,
    bare,
    client_roles,
    partitions,
    schema_of,
    table_exists,
)


def ensure_persys_schema(conn: psycopg.Connection) -> None:
    """Create schema `persys` (no USAGE for anyone but its owner) and move what an older
    version created in `public` into it; idempotent and cheap when done (one query)."""
    found = conn.execute(
        "select exists (select 1 from pg_namespace where nspname = %s), "
        "array(select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "      where n.nspname = 'public' and c.relkind in ('r', 'p') "
        "        and not c.relispartition and c.relname = any(%s))",
        (PERSYS_SCHEMA, [*LEGACY_NAMES, *OWN_TABLES])).fetchone()
    if found[0] and not found[1]:
        return
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(PERSYS_SCHEMA)))
    conn.execute(sql.SQL("revoke all on schema {} from public").format(
        sql.Identifier(PERSYS_SCHEMA)))
    for role in client_roles(conn):
        conn.execute(sql.SQL("revoke all on schema {} from {}").format(
            sql.Identifier(PERSYS_SCHEMA), sql.Identifier(role)))
    for old in found[1]:
        _adopt_legacy(conn, old)


def _adopt_legacy(conn: psycopg.Connection, old: str) -> None:
    """public.<old> (and its partitions) → persys.<new>, protected; a legacy ledger gets the
    engine's columns (`state` from its outcome)."""
    new = LEGACY_NAMES.get(old, old)
    children = conn.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "where i.inhparent = to_regclass(%s)", (f'public."{old}"',)).fetchall()
    if table_exists(conn, f"{PERSYS_SCHEMA}.{new}"):
        return  # both exist: leave the old one for the person to look at (doctor names it)
    for target in [old, *(c[0] for c in children)]:
        conn.execute(sql.SQL("alter table {} set schema {}").format(
            sql.Identifier("public", target), sql.Identifier(PERSYS_SCHEMA)))
    if new != old:
        conn.execute(sql.SQL("alter table {} rename to {}").format(
            sql.Identifier(PERSYS_SCHEMA, old), sql.Identifier(new)))
    if new == "ledger":
        _upgrade_ledger(conn)
    protect(conn, f"{PERSYS_SCHEMA}.{new}")


def _upgrade_ledger(conn: psycopg.Connection) -> None:
    """The ledger before the engine: `outcome` written by hand, the state in JSON."""
    conn.execute("""
        alter table persys.ledger add column if not exists route text;
        alter table persys.ledger add column if not exists state text;
        update persys.ledger set
            route = case when from_tier = 'core' and to_tier = 'main' then 'core_main'
                         when from_tier = 'main' and to_tier = 'archive' then 'main_archive'
                         when from_tier = 'archive' and to_tier = 'main' then 'archive_main'
                         when to_tier = 'deleted' then 'purge'
                         else from_tier || '_' || to_tier end,
            state = case when outcome in ('moved', 'nothing', 'adopted') then 'done'
                         when outcome in ('failed', 'interrupted') then outcome
                         else coalesce(detail->>'state', 'open') end;
        alter table persys.ledger alter column route set not null;
        alter table persys.ledger alter column state set not null;
        alter table persys.ledger alter column state set default 'open';
        alter table persys.ledger rename column checksum to fingerprint;
        alter table persys.ledger drop column outcome;
        alter table persys.ledger add column outcome text generated always as (
            case when state = 'done' then case when rows > 0 then 'moved' else 'nothing' end
                 when state in ('failed', 'interrupted') then state
                 else 'started' end) stored;
        create index if not exists ledger_open_idx on persys.ledger (route, table_name)
            where state not in ('done', 'failed', 'interrupted');""")


def protect(conn: psycopg.Connection, table: str) -> None:
    """Row level security on (no policy: nothing visible to a client role) and no grant to
    PUBLIC or Supabase's client roles, on the table and each of its partitions: what the
    schema's default privileges granted when it was created is taken back."""
    for name in [bare(table), *partitions(conn, table)]:
        target = sql.Identifier(schema_of(table), name)
        conn.execute(sql.SQL("alter table {} enable row level security").format(target))
        conn.execute(sql.SQL("revoke all on table {} from public").format(target))
        for role in client_roles(conn):
            conn.execute(sql.SQL("revoke all on table {} from {}").format(
                target, sql.Identifier(role)))

"""The personal-system tables `persys setup` creates, identical in core and main.

Ids are UUIDs so a row keeps its identity whichever tier it lives in (a sequence per tier would
collide when rows move back and forth). Every table has an index on its day column, which is
what the lifecycle plans and moves by.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from .catalog import OWN_TABLES, ident, table_columns, table_exists
from .private import ensure_persys_schema, protect


@dataclass(frozen=True)
class TableDef:
    name: str
    columns: str  # the column list of CREATE TABLE, primary key included
    day_column: str


PERSONAL_TABLES: tuple[TableDef, ...] = (
    TableDef(
        "journal_entries",
        """id uuid not null default gen_random_uuid(),
           entry_date date not null,
           mood smallint check (mood between 1 and 10),
           title text,
           body text not null,
           tags text[] not null default '{}',
           created_at timestamptz not null default now(),
           primary key (id)""",
        "entry_date",
    ),
    TableDef(
        "health_metrics",
        """id uuid not null default gen_random_uuid(),
           measured_at timestamptz not null,
           metric text not null,
           value double precision not null,
           unit text not null,
           source text,
           primary key (id)""",
        "measured_at",
    ),
    TableDef(
        "tasks",
        """id uuid not null default gen_random_uuid(),
           title text not null,
           status text not null default 'open' check (status in ('open', 'done')),
           priority smallint not null default 2,
           project text,
           created_at timestamptz not null default now(),
           due_date date,
           completed_at timestamptz,
           tags text[] not null default '{}',
           primary key (id)""",
        "completed_at",
    ),
    TableDef(
        "transactions",
        """id uuid not null default gen_random_uuid(),
           occurred_on date not null,
           amount numeric(12,2) not null,
           currency char(3) not null default 'GBP',
           category text not null,
           merchant text,
           note text,
           primary key (id)""",
        "occurred_on",
    ),
    TableDef(
        "shadow_work",
        """id uuid not null default gen_random_uuid(),
           entry_date date not null,
           trigger text,
           emotion text,
           intensity smallint check (intensity between 1 and 10),
           reflection text,
           tags text[] not null default '{}',
           primary key (id)""",
        "entry_date",
    ),
    TableDef(
        "daily_summaries",
        """day date not null,
           health jsonb not null default '{}',
           productivity jsonb not null default '{}',
           finance jsonb not null default '{}',
           mood jsonb not null default '{}',
           shadow_work jsonb not null default '{}',
           summary_text text not null default '',
           created_at timestamptz not null default now(),
           metrics jsonb not null default '{}',
           primary key (day)""",
        "day",
    ),
    TableDef(
        "daily_projections",
        """day date not null,
           window_days integer not null,
           projections jsonb not null default '{}',
           chart_uri text,
           created_at timestamptz not null default now(),
           primary key (day)""",
        "day",
    ),
    TableDef(
        "voice_messages",
        """day date not null,
           engine text not null,
           voice text,
           characters integer not null,
           duration_s real,
           uri text,
           sha256 text,
           sent_at timestamptz,
           telegram_message_id bigint,
           signed_url text,
           created_at timestamptz not null default now(),
           primary key (day)""",
        "day",
    ),
    TableDef(
        "weekly_correlations",  # day: the week's last day; found: lib/insight/correlations
        """day date not null,
           first_day date not null,
           metrics integer not null,
           pairs_tested integer not null,
           found jsonb not null default '[]',
           text text not null default '',
           created_at timestamptz not null default now(),
           primary key (day)""",
        "day",
    ),
)

TABLES_BY_NAME = {t.name: t for t in PERSONAL_TABLES}
# The project's own output tables (written by the daily and voice assets): always created.
OUTPUT_TABLES = OWN_TABLES  # in schema `persys` (lib/pg/catalog.py)
# The sample schema: created only when asked (`--sample-data`, or persys.yaml names them).
SAMPLE_TABLES = tuple(t.name for t in PERSONAL_TABLES if t.name not in OUTPUT_TABLES)

# The ledger (main): one row per step of the engine (lib/moves). `state` is written by the
# engine only (open → a route's steps → done | failed | interrupted); `outcome` is what a person
# reads, derived from it; `fingerprint` is `<algorithm>:<rows>:<checksum>` (moves/fingerprint).
LEDGER_DDL = """
create table if not exists persys.ledger (
    id bigserial primary key,
    route text not null,
    table_name text not null,
    first_day date,
    last_day date,
    from_tier text not null,
    to_tier text not null,
    state text not null default 'open',
    rows bigint not null default 0,
    bytes bigint not null default 0,
    fingerprint text,
    run_id text,
    started_at timestamptz not null default now(),
    ended_at timestamptz,
    detail jsonb not null default '{}',
    outcome text generated always as (
        case when state = 'done' then case when rows > 0 then 'moved' else 'nothing' end
             when state in ('failed', 'interrupted') then state
             else 'started' end) stored
);
create index if not exists ledger_table_idx on persys.ledger (table_name, started_at);
create index if not exists ledger_open_idx on persys.ledger (route, table_name)
    where state not in ('done', 'failed', 'interrupted');
"""


def create_personal_tables(conn: psycopg.Connection, *, partitioned: bool = False,
                           only: Iterable[str] | None = None) -> list[str]:
    """Create the tables that are missing (all, or those named in `only`); returns the names
    created (idempotent).

    `partitioned` (core): tables whose day column is NOT NULL are partitioned by month of the
    day (see lib/space.py: emptied months are dropped, which returns their space at once); the
    primary key then includes the day column, and a DEFAULT partition catches any row.
    Every table made here is private (`protect`: row level security on, nothing for PUBLIC or
    the client roles, whatever the schema's default privileges granted): the sample tables
    hold a journal and shadow work; the person grants their app what it needs.
    """
    created = []
    wanted = set(TABLES_BY_NAME if only is None else only)
    if wanted & set(OWN_TABLES):
        ensure_persys_schema(conn)
    for table in PERSONAL_TABLES:
        if table.name not in wanted or table_exists(conn, table.name):
            continue
        name = ident(table.name)
        if partitioned and _day_not_null(table):
            conn.execute(sql.SQL("create table {} ({}) partition by range ({})").format(
                name, sql.SQL(_with_day_in_key(table)), sql.Identifier(table.day_column)))
            conn.execute(sql.SQL("create table {} partition of {} default").format(
                ident(f"{table.name}_pdefault"), name))
        else:
            conn.execute(sql.SQL("create table {} ({})").format(name, sql.SQL(table.columns)))
        conn.execute(sql.SQL("create index {} on {} ({})").format(
            sql.Identifier(f"{table.name}_{table.day_column}_idx"), name,
            sql.Identifier(table.day_column)))
        protect(conn, table.name)  # the sample tables too: private until the person grants
        created.append(table.name)
    return created


def _day_not_null(table: TableDef) -> bool:
    line = next(ln for ln in table.columns.splitlines() if ln.split()[0] == table.day_column)
    return "not null" in line


def _with_day_in_key(table: TableDef) -> str:
    """A partitioned table's primary key must contain the partition column."""
    if "primary key (id)" not in table.columns:
        return table.columns
    return table.columns.replace("primary key (id)", f"primary key (id, {table.day_column})")


def create_ledger(conn: psycopg.Connection) -> None:
    ensure_persys_schema(conn)
    if not table_exists(conn, "persys.ledger"):
        conn.execute(LEDGER_DDL)
        protect(conn, "persys.ledger")


# What remains of purged days (lib/archive/digest.py): one row per archive file, its days'
# digests in one JSONB value (`{"2024-03-01": {...}, ...}`), which TOAST compresses as a whole:
# a month's days repeat one shape, so a file's row is a fraction of a row per day (bench/
# RESULTS.md, issue 24). A day in SQL: `select d.key::date, d.value from persys.digests,
# jsonb_each(days) d where table_name = 'health_metrics'`.
DIGESTS_DDL = """
create table if not exists persys.digests (
    table_name text not null,
    source text not null,
    first_day date not null,
    last_day date not null,
    days jsonb not null,
    created_at timestamptz not null default now(),
    primary key (table_name, source)
);
"""


def create_digests(conn: psycopg.Connection) -> None:
    """persys.digests, made or brought to this shape (the first kept a row per day)."""
    if not table_exists(conn, "persys.digests"):
        ensure_persys_schema(conn)
        conn.execute(DIGESTS_DDL)
        protect(conn, "persys.digests")
    elif "day" in table_columns(conn, "persys.digests"):
        _digests_per_file(conn)


def _digests_per_file(conn: psycopg.Connection) -> None:
    """A row per day and file → a row per file (in the caller's transaction; the lock makes a
    second process wait, then find the new shape)."""
    conn.execute("lock table persys.digests in access exclusive mode")
    if "day" not in table_columns(conn, "persys.digests"):
        return
    conn.execute("alter table persys.digests rename to digests_per_day")
    conn.execute("alter index if exists persys.digests_pkey rename to digests_per_day_pkey")
    conn.execute(DIGESTS_DDL)
    protect(conn, "persys.digests")
    conn.execute("""
        insert into persys.digests (table_name, source, first_day, last_day, days, created_at)
        select table_name, source, min(day), max(day),
               jsonb_object_agg(day::text, digest order by day), min(created_at)
        from persys.digests_per_day group by table_name, source""")
    conn.execute("drop table persys.digests_per_day")


# Restored days held in main (lib/archive/pins.py): the archive skips them while until > as_of.
PINS_DDL = """
create table if not exists persys.pins (
    table_name text not null,
    first_day date not null,
    last_day date not null,
    until date not null,
    created_at timestamptz not null default now(),
    primary key (table_name, first_day, last_day)
);
"""


def create_pins(conn: psycopg.Connection) -> None:
    """Idempotent, and only on the first restore: a database nobody restored into keeps no
    pins table (invariant 8)."""
    ensure_persys_schema(conn)
    if not table_exists(conn, "persys.pins"):
        conn.execute(PINS_DDL)
        protect(conn, "persys.pins")


MONITORING_TABLES = ("usage", "health_checks", "incidents", "costs", "notifications")
# Monitoring (main tier): usage history, health checks and incidents, costs, notification outbox.
MONITORING_DDL = """
create table if not exists persys.usage (
    at timestamptz not null default now(),
    tier text not null,
    bytes bigint not null,
    quota_bytes bigint,
    primary key (tier, at)
);
create table if not exists persys.health_checks (
    at timestamptz not null default now(),
    endpoint text not null,
    ok boolean not null,
    latency_ms real,
    detail text not null default '',
    primary key (endpoint, at)
);
create table if not exists persys.incidents (
    id bigserial primary key,
    endpoint text not null,
    opened_at timestamptz not null,
    resolved_at timestamptz,
    detail text not null default ''
);
create unique index if not exists incidents_one_open_idx on persys.incidents (endpoint)
    where resolved_at is null;
create table if not exists persys.costs (
    day date not null,
    source text not null,
    amount_usd numeric(12,4),
    detail jsonb not null default '{}',
    recorded_at timestamptz not null default now(),
    primary key (day, source)
);
create table if not exists persys.notifications (
    id bigserial primary key,
    key text not null,
    channel text not null,
    subject text not null,
    body text not null,
    created_at timestamptz not null default now(),
    sent_at timestamptz,
    attempts integer not null default 0,
    last_error text,
    unique (key, channel)
);
"""


def create_monitoring_tables(conn: psycopg.Connection) -> None:
    """Idempotent; `persys setup` runs it, and every monitoring writer before its first write."""
    ensure_persys_schema(conn)
    if not table_exists(conn, "persys.notifications"):
        conn.execute(MONITORING_DDL)
        for name in MONITORING_TABLES:
            protect(conn, f"persys.{name}")

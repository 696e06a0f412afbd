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
OUTPUT_TABLES = ("daily_summaries", "daily_projections", "voice_messages",
                 "weekly_correlations")
# The sample schema: created only when asked (`--sample-data`, or persys.yaml names them).
SAMPLE_TABLES = tuple(t.name for t in PERSONAL_TABLES if t.name not in OUTPUT_TABLES)

LEDGER_DDL = """
create table if not exists persys_ledger (
    id bigserial primary key,
    table_name text not null,
    first_day date,
    last_day date,
    from_tier text not null,
    to_tier text not null,
    rows bigint not null default 0,
    bytes bigint not null default 0,
    checksum text,
    run_id text,
    started_at timestamptz not null default now(),
    ended_at timestamptz,
    outcome text not null default 'started',
    detail jsonb not null default '{}'
);
create index if not exists persys_ledger_table_idx on persys_ledger (table_name, started_at);
"""


def create_personal_tables(conn: psycopg.Connection, *, partitioned: bool = False,
                           only: Iterable[str] | None = None) -> list[str]:
    """Create the tables that are missing (all, or those named in `only`); returns the names
    created (idempotent).

    `partitioned` (core): tables whose day column is NOT NULL are partitioned by month of the
    day (see lib/space.py: emptied months are dropped, which returns their space at once); the
    primary key then includes the day column, and a DEFAULT partition catches any row.
    """
    created = []
    wanted = set(TABLES_BY_NAME if only is None else only)
    for table in PERSONAL_TABLES:
        if table.name not in wanted or table_exists(conn, table.name):
            continue
        if partitioned and _day_not_null(table):
            conn.execute(
                sql.SQL("create table {} ({}) partition by range ({})").format(
                    sql.Identifier(table.name), sql.SQL(_with_day_in_key(table)),
                    sql.Identifier(table.day_column),
                )
            )
            conn.execute(sql.SQL("create table {} partition of {} default").format(
                sql.Identifier(f"{table.name}_pdefault"), sql.Identifier(table.name)))
        else:
            conn.execute(
                sql.SQL("create table {} ({})").format(
                    sql.Identifier(table.name), sql.SQL(table.columns)
                )
            )
        conn.execute(
            sql.SQL("create index {} on {} ({})").format(
                sql.Identifier(f"{table.name}_{table.day_column}_idx"),
                sql.Identifier(table.name),
                sql.Identifier(table.day_column),
            )
        )
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
    conn.execute(LEDGER_DDL)


# Restored days held in main (lib/archive/pins.py): the archive skips them while until > as_of.
PINS_DDL = """
create table if not exists persys_pins (
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
    if not table_exists(conn, "persys_pins"):
        conn.execute(PINS_DDL)


# Monitoring (main tier): usage history, health checks and incidents, costs, notification outbox.
MONITORING_DDL = """
create table if not exists persys_usage (
    at timestamptz not null default now(),
    tier text not null,
    bytes bigint not null,
    quota_bytes bigint,
    primary key (tier, at)
);
create table if not exists persys_health_checks (
    at timestamptz not null default now(),
    endpoint text not null,
    ok boolean not null,
    latency_ms real,
    detail text not null default '',
    primary key (endpoint, at)
);
create table if not exists incidents (
    id bigserial primary key,
    endpoint text not null,
    opened_at timestamptz not null,
    resolved_at timestamptz,
    detail text not null default ''
);
create unique index if not exists incidents_one_open_idx on incidents (endpoint)
    where resolved_at is null;
create table if not exists persys_costs (
    day date not null,
    source text not null,
    amount_usd numeric(12,4),
    detail jsonb not null default '{}',
    recorded_at timestamptz not null default now(),
    primary key (day, source)
);
create table if not exists persys_notifications (
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
    if not table_exists(conn, "persys_notifications"):
        conn.execute(MONITORING_DDL)


def table_exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("select to_regclass(%s) is not null", (f"public.{name}",)).fetchone()
    return bool(row[0])


def primary_key(conn: psycopg.Connection, name: str) -> list[str]:
    """The primary key's columns in key order ([] when the table has none)."""
    rows = conn.execute(
        """select a.attname
             from pg_index i
             join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
            where i.indrelid = to_regclass(%s) and i.indisprimary
            order by array_position(i.indkey::int2[], a.attnum)""",
        (f"public.{name}",),
    ).fetchall()
    return [r[0] for r in rows]


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
        cur = conn.execute(sql.SQL("select * from {} where false").format(sql.Identifier(name)))
    except psycopg.errors.UndefinedTable:
        return None
    return {d.name: _DAY_TYPES_BY_OID.get(d.type_code, d.type_display)
            for d in cur.description or []}


def table_columns(conn: psycopg.Connection, name: str) -> dict[str, str]:
    """Column name → formatted type (e.g. `numeric(12,2)`, `text[]`), in table order."""
    rows = conn.execute(
        """select a.attname, format_type(a.atttypid, a.atttypmod)
             from pg_attribute a
            where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped
            order by a.attnum""",
        (f"public.{name}",),
    ).fetchall()
    return dict(rows)

"""What a person's database holds, read without changing anything (`persys init`).

Everything runs in one read-only transaction (`set transaction read only`, a statement timeout)
that is rolled back: works on a direct connection, the session pooler and the transaction
pooler alike. For each table of the `public` schema: columns (domains as their base type),
primary key, size (a partitioned table's partitions summed), rows, candidate day columns and,
for the chosen one, the rows per day of the last 30 days; foreign keys (out and in, `auth.users`
among them), row-level security, and which person (`auth.users` id) owns how many rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..config import TablePolicy
from ..pg.tables import day_sql

DAY_TYPES = ("date", "timestamp with time zone", "timestamp without time zone")
NUMBER_TYPES = ("smallint", "integer", "bigint", "real", "double precision", "numeric", "money")
GROWTH_WINDOW_DAYS = 30
# names a row's own day goes by (score 3), its insertion time (2), any other time (1); a column
# that changes with the row or points ahead (updated_at, due_date) never decides its day (0)
STRONG = {"day", "date", "night", "entry_date", "occurred_on", "occurred_at", "recorded_at",
          "measured_at", "logged_at", "written_at", "taken_at", "paid_on", "performed_at",
          "started_at", "start_time", "timestamp", "ts", "at", "time", "happened_at", "logged_on",
          "recorded_on", "entry_at", "booked_on", "spent_on", "eaten_at", "slept_on"}
INSERTED = {"created_at", "inserted_at", "created_on", "created"}
NEVER = ("updated", "modified", "deleted", "expires", "due", "last_", "next_", "valid_")
TASK_TABLES = ("task", "todo", "to_do")
DONE_AT = ("done_at", "completed_at", "finished_at", "completed_on")
DONE_FLAGS = ("is_done", "done", "completed", "is_completed", "finished")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type of the base type (a domain's base)
    not_null: bool

    @property
    def base(self) -> str:
        return self.type.split("(")[0]

    @property
    def is_number(self) -> bool:
        return self.base in NUMBER_TYPES

    @property
    def is_day(self) -> bool:
        return self.type in DAY_TYPES


@dataclass
class Table:
    name: str
    columns: list[Column]
    primary_key: list[str]
    bytes: int
    rows: int
    partitioned: bool
    rls: bool
    rls_forced: bool
    refs_out: list[tuple[list[str], str]] = field(default_factory=list)  # (columns, target)
    refs_in: list[str] = field(default_factory=list)  # referencing tables
    day_column: str | None = None
    day_candidates: list[str] = field(default_factory=list)
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    recent_rows: int = 0  # rows of the last GROWTH_WINDOW_DAYS days (by the day column)
    null_days: int = 0
    people: dict[str, int] = field(default_factory=dict)  # auth.users id → rows (one column)
    person_column: str | None = None
    only_when: dict | None = None  # the policy's filter (a to-do table's done flag)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    window_days: int = GROWTH_WINDOW_DAYS  # days `recent_rows` covers (fewer for a new table)

    @property
    def rows_per_day(self) -> float:
        """Rows a day over the last 30 days (or the days since the first row, when fewer)."""
        return self.recent_rows / self.window_days if self.recent_rows else 0.0

    @property
    def bytes_per_row(self) -> float:
        return self.bytes / self.rows if self.rows else 0.0


@dataclass
class Project:
    database: str
    database_bytes: int  # pg_database_size of this database
    cluster_bytes: int  # all databases of the server: what Supabase bills
    tables: list[Table]
    skipped_schemas: list[str]  # schemas with tables we did not look into (auth, storage, ...)
    today: dt.date

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)


def plain(name: str) -> bool:
    """A lower-case SQL identifier: what persys.yaml takes as a table or column name as is."""
    return name.isidentifier() and name == name.lower()


def day_score(column: Column, table: str = "") -> float:
    """How well a column tells a row's day. A to-do's day is when it was done (open ones, with
    no such day, stay in core where the app needs them), not when it was created."""
    name = column.name.lower()
    if (not column.is_day or not plain(column.name)
            or any(name.startswith(p) or f"_{p}" in name for p in NEVER)):
        return 0
    if name in DONE_AT and any(w in table.lower() for w in TASK_TABLES):
        return 5
    score = 3 if name in STRONG or name.endswith(("_date", "_on", "_day")) else (
        2 if name in INSERTED else 1)
    return score + (0.5 if column.not_null else 0)


def inspect(conn: psycopg.Connection, zone: str, today: dt.date) -> Project:
    """The whole project, read-only; nothing it does is left behind."""
    with conn.transaction(force_rollback=True):
        conn.execute("set transaction read only")
        conn.execute("set local statement_timeout = '60s'")
        database, db_bytes, cluster = conn.execute(
            "select current_database(), pg_database_size(current_database()), "
            "(select sum(pg_database_size(datname))::bigint from pg_database "
            " where datallowconn)").fetchone()
        tables = [_table(conn, *row) for row in conn.execute(TABLES).fetchall()]
        for table in tables:
            _refs(conn, table)
            _days(conn, table, zone, today)
            _people(conn, table)
        skipped = [r[0] for r in conn.execute(OTHER_SCHEMAS).fetchall()]
    return Project(database, int(db_bytes), int(cluster or db_bytes), tables, skipped, today)


TABLES = """
select c.oid, c.relname, c.relkind = 'p', c.relrowsecurity, c.relforcerowsecurity,
       case when c.relkind = 'p' then
         (select coalesce(sum(pg_total_relation_size(p.relid)), 0)::bigint
            from pg_partition_tree(c.oid) p)
       else pg_total_relation_size(c.oid) end
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
 order by c.relname"""

OTHER_SCHEMAS = """
select distinct n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p') and n.nspname not in ('public', 'pg_catalog',
       'information_schema', 'pg_toast') and n.nspname not like 'pg_temp%'
 order by 1"""


def _table(conn: psycopg.Connection, oid: int, name: str, partitioned: bool, rls: bool,
           forced: bool, size: int) -> Table:
    columns = [Column(n, t, nn) for n, t, nn in conn.execute(
        """select a.attname,
                  format_type(coalesce(nullif(t.typbasetype, 0), a.atttypid),
                              case when t.typbasetype <> 0 then t.typtypmod else a.atttypmod end),
                  a.attnotnull
             from pg_attribute a join pg_type t on t.oid = a.atttypid
            where a.attrelid = %s and a.attnum > 0 and not a.attisdropped
            order by a.attnum""", (oid,)).fetchall()]
    key = [r[0] for r in conn.execute(
        """select a.attname from pg_index i
             join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
            where i.indrelid = %s and i.indisprimary
            order by array_position(i.indkey::int2[], a.attnum)""", (oid,)).fetchall()]
    rows = conn.execute(sql.SQL("select count(*) from {}").format(
        sql.Identifier(name))).fetchone()[0]
    return Table(name, columns, key, int(size), int(rows), partitioned, rls, forced)


def _refs(conn: psycopg.Connection, table: Table) -> None:
    out = conn.execute(
        """select array(select a.attname from unnest(k.conkey) with ordinality u(n, o)
                        join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n
                        order by u.o),
                  case when n.nspname = 'public' then c.relname
                       else n.nspname || '.' || c.relname end
             from pg_constraint k join pg_class c on c.oid = k.confrelid
             join pg_namespace n on n.oid = c.relnamespace
            where k.contype = 'f' and k.conrelid = to_regclass(%s) and k.conparentid = 0
            order by 2""", (f"public.{table.name}",)).fetchall()
    table.refs_out = [(list(cols), target) for cols, target in out]
    table.refs_in = [r[0] for r in conn.execute(
        """select distinct case when n.nspname = 'public' then c.relname
                                else n.nspname || '.' || c.relname end
             from pg_constraint k join pg_class c on c.oid = k.conrelid
             join pg_namespace n on n.oid = c.relnamespace
            where k.contype = 'f' and k.confrelid = to_regclass(%s) and k.conparentid = 0
              and k.conrelid <> k.confrelid
            order by 1""", (f"public.{table.name}",)).fetchall()]


def _days(conn: psycopg.Connection, table: Table, zone: str, today: dt.date) -> None:
    """The best day column and, by it, the table's first/last day and recent growth."""
    ranked = sorted((c for c in table.columns if day_score(c, table.name) > 0),
                    key=lambda c: day_score(c, table.name), reverse=True)
    table.day_candidates = [c.name for c in ranked]
    if not ranked:
        return
    table.day_column = ranked[0].name
    if table.day_column in DONE_AT:  # a done task moves; one marked undone again stays
        flag = next((c for c in table.columns if c.name in DONE_FLAGS and c.base == "boolean"),
                    None)
        table.only_when = {flag.name: True} if flag else None
    types = {c.name: c.type for c in table.columns}
    day = day_sql(table.name, TablePolicy(day_column=table.day_column, core_days=0), zone, types)
    since = today - dt.timedelta(days=GROWTH_WINDOW_DAYS)
    first, last, recent, nulls = conn.execute(sql.SQL(
        "select min({d}), max({d}), count(*) filter (where {d} > %s and {d} <= %s), "
        "count(*) filter (where {d} is null) from {t}").format(
            d=day, t=sql.Identifier(table.name)), (since, today)).fetchone()
    table.first_day, table.last_day = first, last
    table.recent_rows, table.null_days = int(recent), int(nulls)
    if first is not None:
        table.window_days = max(1, min(GROWTH_WINDOW_DAYS, (today - first).days + 1))


def _people(conn: psycopg.Connection, table: Table) -> None:
    """Rows per `auth.users` id, for the first column that references it."""
    for columns, target in table.refs_out:
        if target == "auth.users" and len(columns) == 1:
            table.person_column = columns[0]
            table.people = {str(k): int(n) for k, n in conn.execute(sql.SQL(
                "select {c}, count(*) from {t} where {c} is not null group by 1 "
                "order by 2 desc, 1 limit 20").format(
                    c=sql.Identifier(columns[0]), t=sql.Identifier(table.name))).fetchall()}
            return


def distinct_values(conn: psycopg.Connection, table: str, column: str, limit: int = 50
                    ) -> dict[str, int]:
    """A text column's most frequent values → rows (to read a metric/value layout), read-only."""
    with conn.transaction(force_rollback=True):
        conn.execute("set transaction read only")
        conn.execute("set local statement_timeout = '60s'")
        rows = conn.execute(sql.SQL(
            "select {c}::text, count(*) from {t} where {c} is not null group by 1 "
            "order by 2 desc, 1 limit %s").format(
                c=sql.Identifier(column), t=sql.Identifier(table)), (limit,)).fetchall()
    return {str(v): int(n) for v, n in rows}


def sign_counts(conn: psycopg.Connection, table: str, value: str) -> tuple[int, int]:
    """(rows below zero, rows above zero) of a numeric column: does it carry income too?"""
    with conn.transaction(force_rollback=True):
        conn.execute("set transaction read only")
        conn.execute("set local statement_timeout = '60s'")
        below, above = conn.execute(sql.SQL(
            "select count(*) filter (where {c} < 0), count(*) filter (where {c} > 0) "
            "from {t}").format(c=sql.Identifier(value), t=sql.Identifier(table))).fetchone()
    return int(below), int(above)

"""Read-only checks of the metrics' sources against a database (`persys doctor`, `daily run`),
and the person filter applied to them.

The config load already refused anything that is not a plain expression; here PostgreSQL
parses and plans each source as the summary will run it (`EXPLAIN select <value>, <day>, <by>
from <table> where <filters> and false`), then evaluates the value on up to three rows, all
inside a read-only transaction with the statement timeout (pg.guard) that is rolled back: a
typo in a column, a filter on a missing column, a value of the wrong type, a function that
writes (`setval`) or one that hangs (`pg_sleep`) is found before the first morning run.
"""

from __future__ import annotations

import contextlib

import psycopg
from psycopg import sql

from ..config.daily import Daily
from ..config.sources import Source
from ..pg.catalog import columns_referencing, ident, table_columns, table_exists
from ..pg.guard import guarded, why_refused
from ..pg.tables import DATE_TYPES
from ..pg.tiers import PgTier

# the day column types the summary's reader turns into a calendar day (pg.tables.day_expression)
DAY_TYPES = {*DATE_TYPES, "timestamp with time zone", "timestamp without time zone"}


def person_sources(settings: Daily, conn: psycopg.Connection | None = None, *,
                   core: PgTier | None = None) -> dict[str, Source]:
    """metric → its source with the person filter in `where`: the source's own `person`, else
    `daily.person` on every table that has that column (asked of core once per table: `conn`,
    else a connection to `core`)."""
    sources = settings.metric_sources()
    default = settings.person
    if default is None:
        return {m: s.with_person(None) for m, s in sources.items()}
    with contextlib.ExitStack() as stack:
        if conn is None:
            if core is None:
                raise ValueError("person_sources needs core or a connection to it")
            conn = stack.enter_context(core.connect())
        has = {t: default.column in table_columns(conn, t) for t in {s.table for s in
                                                                      sources.values()}}
    return {m: s.with_person(default if has[s.table] else None) for m, s in sources.items()}


def check_sources(conn: psycopg.Connection, sources: dict[str, Source], *,
                  keys: dict[str, str] | None = None, timeout_s: float | None = 30.0
                  ) -> list[str]:
    """One problem per broken source, naming its key (`keys[metric]`, default
    `daily.sources.<metric>`) and the fix; [] if all run. `conn` is the tier that holds the
    tables (core), idle; nothing is written."""
    problems = []
    for metric, source in sources.items():
        key = (keys or {}).get(metric, f"daily.sources.{metric}")
        if not table_exists(conn, source.table):
            problems.append(f"{key}.table: no table {source.table!r} in this database; name "
                            "an existing table or set the metric to null")
            continue
        columns = table_columns(conn, source.table)
        for field, names in (("day_column", [source.day_column]), ("where", list(source.where)),
                             ("by", [source.by] if source.by else [])):
            missing = [n for n in names if n not in columns]
            if missing:
                problems.append(f"{key}.{field}: table {source.table} has no column "
                                f"{', '.join(map(repr, missing))} (columns: "
                                f"{', '.join(columns)})")
        kind = columns.get(source.day_column)
        if kind is not None and kind not in DAY_TYPES:
            problems.append(f"{key}.day_column: column {source.table}.{source.day_column} is "
                            f"{kind}; it must be a date or timestamptz column")
        if any(p.startswith(key + ".") for p in problems):
            continue
        problem = _explain(conn, source, timeout_s) or _evaluate(conn, source, timeout_s)
        if problem:
            problems.append(f"{key}.value ({source.value!r}): PostgreSQL cannot run it on "
                            f"{source.table}: {problem}; fix the expression or the filters")
            continue
        kind = _not_a_number(conn, source, timeout_s)
        if kind:
            problems.append(f"{key}.agg ({source.agg!r}): the value {source.value!r} is "
                            f"{kind}, and a {source.agg} needs numbers; use a numeric column "
                            "or expression, or agg: count, min, max or last")
    return problems


# what a sum or a mean can add up (a domain is reported as its base type): smallint, integer,
# bigint, real, double precision, numeric, money, boolean (pandas counts the trues)
NUMBER_OIDS = {21, 23, 20, 700, 701, 1700, 790, 16}


def _not_a_number(conn: psycopg.Connection, source: Source, timeout_s: float | None
                  ) -> str | None:
    """The value's type when `agg` is sum or mean and the type is no number (the summary would
    add up text as 0.0), else None; read from the query's description, no row read."""
    if source.agg not in ("sum", "mean") or not source.value:
        return None
    query = sql.SQL("select ({}) from {} where false").format(
        sql.SQL(source.value.replace("%", "%%")), ident(source.table))
    with guarded(conn, timeout_s):
        column = conn.execute(query).description[0]
    return None if column.type_code in NUMBER_OIDS else column.type_display


def _filters(source: Source) -> tuple[sql.Composable, list]:
    """`<c> = %s and ` for each `where` column, and the values."""
    where = [sql.SQL("{} = %s").format(sql.Identifier(c)) for c in source.where]
    return sql.SQL("").join(w + sql.SQL(" and ") for w in where), list(source.where.values())


def _evaluate(conn: psycopg.Connection, source: Source, timeout_s: float | None) -> str | None:
    """The value computed on up to three rows: a function that writes or hangs is refused
    here (EXPLAIN plans it without running it)."""
    if not source.value:
        return None
    where, params = _filters(source)
    query = sql.SQL("select ({}) from {} where {}true limit 3").format(
        sql.SQL(source.value.replace("%", "%%")), sql.Identifier(source.table), where)
    try:
        with guarded(conn, timeout_s):
            conn.execute(query, params).fetchall()
    except psycopg.Error as exc:
        refused = why_refused(exc, timeout_s)
        diag = exc.diag.message_primary if exc.diag else None
        return refused or (diag or str(exc).splitlines()[0])[:300]
    return None


def _explain(conn: psycopg.Connection, source: Source, timeout_s: float | None) -> str | None:
    fields = [sql.SQL("({})").format(sql.SQL((source.value or "1").replace("%", "%%"))),
              sql.Identifier(source.day_column)]
    if source.by:
        fields.append(sql.Identifier(source.by))
    where, params = _filters(source)
    query = sql.SQL("explain select {} from {} where {}false").format(
        sql.SQL(", ").join(fields), ident(source.table), where)
    try:
        with guarded(conn, timeout_s):
            conn.execute(query, params)
    except psycopg.Error as exc:
        diag = exc.diag.message_primary if exc.diag else None
        return why_refused(exc, timeout_s) or (diag or str(exc).splitlines()[0])[:300]
    return None


def shared_tables(conn: psycopg.Connection, sources: dict[str, Source], *,
                  keys: dict[str, str] | None = None, timeout_s: float | None = 30.0
                  ) -> list[str]:
    """Warnings for sources that would add up several people's rows: the table has a column
    referencing `auth.users` (Supabase's users) holding more than one value, and the source
    filters no such column. One line per table, naming its metrics and the fix."""
    if conn.execute("select to_regclass('auth.users')").fetchone()[0] is None:
        return []
    warnings = []
    by_table: dict[str, list[str]] = {}
    for metric, source in sources.items():
        by_table.setdefault(source.table, []).append(metric)
    for table, metrics in by_table.items():
        columns = columns_referencing(conn, f"public.{table}", "auth.users")
        for column in columns:
            open_metrics = [m for m in metrics if column not in sources[m].where]
            if not open_metrics:
                continue
            query = sql.SQL("select count(*) from (select distinct {} from {} limit 2) d").format(
                sql.Identifier(column), sql.Identifier(table))
            with guarded(conn, timeout_s):
                people = conn.execute(query).fetchone()[0]
            if people > 1:
                named = ", ".join((keys or {}).get(m, f"daily.sources.{m}") for m in open_metrics)
                warnings.append(
                    f"{named}: table {table} is shared (its column {column} references "
                    f"auth.users and holds several people) and no person filter applies, so "
                    f"everyone's rows are added up; set daily.person: {{column: {column}, "
                    "value: <your user id>} (or person: on the source)")
    return warnings

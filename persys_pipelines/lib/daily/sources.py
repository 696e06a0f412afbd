"""Read-only checks of `daily.sources` against a database (for `persys doctor`).

The config load already refused anything that is not a plain expression; here PostgreSQL
parses and plans each source as the summary will run it (`EXPLAIN select <value>, <day>, <by>
from <table> where <filters> and false`), inside a read-only transaction that is rolled back,
so a typo in a column, a filter on a missing column or a value of the wrong type is found
before the first morning run, without reading a row.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from ..config.sources import Source
from ..pg.catalog import ident, table_columns, table_exists
from ..pg.tables import DATE_TYPES

# the day column types the summary's reader turns into a calendar day (pg.tables.day_expression)
DAY_TYPES = {*DATE_TYPES, "timestamp with time zone", "timestamp without time zone"}


def check_sources(conn: psycopg.Connection, sources: dict[str, Source]) -> list[str]:
    """One problem per broken source, naming `daily.sources.<metric>` and the fix; [] if all
    parse. `conn` is the tier that holds the tables (core); nothing is written."""
    problems = []
    for metric, source in sources.items():
        key = f"daily.sources.{metric}"
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
        problem = _explain(conn, source)
        if problem:
            problems.append(f"{key}.value ({source.value!r}): PostgreSQL cannot run it on "
                            f"{source.table}: {problem}; fix the expression or the filters")
            continue
        kind = _not_a_number(conn, source)
        if kind:
            problems.append(f"{key}.agg ({source.agg!r}): the value {source.value!r} is "
                            f"{kind}, and a {source.agg} needs numbers; use a numeric column "
                            "or expression, or agg: count, min, max or last")
    return problems


# what a sum or a mean can add up (a domain is reported as its base type): smallint, integer,
# bigint, real, double precision, numeric, money, boolean (pandas counts the trues)
NUMBER_OIDS = {21, 23, 20, 700, 701, 1700, 790, 16}


def _not_a_number(conn: psycopg.Connection, source: Source) -> str | None:
    """The value's type when `agg` is sum or mean and the type is no number (the summary would
    add up text as 0.0), else None; read from the query's description, no row read."""
    if source.agg not in ("sum", "mean") or not source.value:
        return None
    query = sql.SQL("select ({}) from {} where false").format(
        sql.SQL(source.value.replace("%", "%%")), ident(source.table))
    with conn.transaction(force_rollback=True):
        conn.execute("set transaction read only")
        column = conn.execute(query).description[0]
    return None if column.type_code in NUMBER_OIDS else column.type_display


def _explain(conn: psycopg.Connection, source: Source) -> str | None:
    fields = [sql.SQL("({})").format(sql.SQL((source.value or "1").replace("%", "%%"))),
              sql.Identifier(source.day_column)]
    if source.by:
        fields.append(sql.Identifier(source.by))
    where = [sql.SQL("{} = %s").format(sql.Identifier(c)) for c in source.where]
    query = sql.SQL("explain select {} from {} where {}false").format(
        sql.SQL(", ").join(fields), ident(source.table),
        sql.SQL("").join(w + sql.SQL(" and ") for w in where))
    try:
        with conn.transaction(force_rollback=True):
            conn.execute("set transaction read only")
            conn.execute(query, list(source.where.values()))
    except psycopg.Error as exc:
        diag = exc.diag.message_primary if exc.diag else None
        return (diag or str(exc).splitlines()[0])[:300]
    return None

"""What day a row belongs to, and what days a table holds in a tier.

The day of a row is its calendar day in the configured zone: for a `timestamptz` column
`(col AT TIME ZONE zone)::date`, for a `date` column the value itself. Everything that plans
or counts by day uses `day_expression`, so planning, moving and reporting always agree.

A day must also be *placeable*: a date of years 1-9999 (`placeable`). A row dated ±infinity,
BC or in a five-digit year has no month to be archived under and no Python date: like a row
without a day it is never due, stays where it is (core), and `persys status` counts it
(`unplaced_day_rows`) instead of failing on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..config import TablePolicy
from ..errors import TierError
from .catalog import ident, table_columns, table_exists

DATE_TYPES = {"date"}
TIMESTAMP_TYPES = {"timestamp with time zone", "timestamp without time zone"}


class TableError(TierError):
    """A configured table does not fit its policy (missing, or day column of the wrong type)."""


def day_expression(
    conn: psycopg.Connection, table: str, policy: TablePolicy, zone: str
) -> sql.Composable:
    """The row's day as SQL; checks the policy's columns first (`setup --validate` relies on it)."""
    return day_sql(table, policy, zone, table_columns(conn, table))


def day_sql(table: str, policy: TablePolicy, zone: str, columns: dict[str, str]) -> sql.Composable:
    """`day_expression` for a caller that already holds the table's columns (name → type)."""
    _check_only_when(table, policy, columns)
    column = policy.day_column
    if column not in columns:
        raise TableError(
            f"tables.{table}.day_column: table {table} has no column {column!r} "
            f"(columns: {', '.join(columns)}); fix day_column in persys.yaml"
        )
    kind = columns[column]
    ident = sql.Identifier(column)
    if kind in DATE_TYPES:
        return ident
    if kind == "timestamp with time zone":
        return sql.SQL("({} at time zone {})::date").format(ident, sql.Literal(zone))
    if kind == "timestamp without time zone":
        return sql.SQL("({})::date").format(ident)
    raise TableError(
        f"tables.{table}.day_column: column {column!r} is {kind}; it must be a date or "
        "timestamptz column"
    )


def _check_only_when(table: str, policy: TablePolicy, columns: dict[str, str]) -> None:
    """`only_when` on a missing column would fail every plan with a bare SQL error."""
    missing = [c for c in policy.only_when or {} if c not in columns]
    if missing:
        raise TableError(
            f"tables.{table}.only_when: table {table} has no column {missing[0]!r} "
            f"(columns: {', '.join(columns)}); fix or remove only_when in persys.yaml"
        )


FIRST_DAY, LAST_DAY = dt.date.min, dt.date.max  # the days persys can place (years 1-9999)


def placeable(day: sql.Composable) -> sql.Composable:
    """`day` is a date persys can place on its calendar (module doc); false for ±infinity, BC
    and five-digit years, NULL for no day. A plain range, so an index on the column serves."""
    return sql.SQL("{} between {} and {}").format(day, sql.Literal(FIRST_DAY),
                                                  sql.Literal(LAST_DAY))


def only_when_condition(policy: TablePolicy) -> sql.Composable:
    """`only_when: {status: done}` → `status = 'done'`; no condition → `true`."""
    if not policy.only_when:
        return sql.SQL("true")
    parts = [
        sql.SQL("{} = {}").format(sql.Identifier(col), sql.Literal(val))
        for col, val in policy.only_when.items()
    ]
    return sql.SQL(" and ").join(parts)


@dataclass(frozen=True)
class DayRange:
    rows: int
    first_day: dt.date | None
    last_day: dt.date | None
    null_day_rows: int = 0
    unplaced_day_rows: int = 0  # dated ±infinity, BC or a five-digit year (module doc)

    def as_json(self) -> dict:
        return {
            "rows": self.rows,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "null_day_rows": self.null_day_rows,
            "unplaced_day_rows": self.unplaced_day_rows,
        }


EMPTY = DayRange(0, None, None, 0)


def day_range(conn: psycopg.Connection, table: str, policy: TablePolicy, zone: str) -> DayRange:
    """Rows, first and last (placeable) day of a table in one tier (EMPTY when the table is
    absent)."""
    if not table_exists(conn, table):
        return EMPTY
    day = day_expression(conn, table, policy, zone)
    query = sql.SQL(
        "select count(*), min({day}) filter (where {ok}), max({day}) filter (where {ok}), "
        "count(*) filter (where {day} is null), count(*) filter (where not {ok}) from {t}"
    ).format(day=day, ok=placeable(day), t=ident(table))
    rows, first, last, nulls, unplaced = conn.execute(query).fetchone()
    return DayRange(int(rows), first, last, int(nulls), int(unplaced))


@dataclass(frozen=True)
class TableSpec:
    """A table as its policy names it: what every route and reader is handed about it (never
    the whole config)."""

    name: str
    policy: TablePolicy
    zone: str

"""What is due, asked of the data: the days present in core older than `as_of - core_days`.

The plan never comes from what Dagster (or the ledger) believes was moved: a late row for a
day that already moved is simply a day present in core again, so the next run moves it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..calendar import month_start
from ..config import TablePolicy
from ..pg import references
from ..pg.catalog import ident, table_exists
from ..pg.tables import day_expression, only_when_condition, placeable


@dataclass(frozen=True)
class TablePlan:
    table: str
    cutoff: dt.date  # the first day that stays in core
    days: dict[dt.date, int]  # due day → rows
    held_back: dict[str, int] = field(default_factory=dict)  # reference → due rows kept

    @property
    def rows(self) -> int:
        return sum(self.days.values())

    @property
    def first_day(self) -> dt.date | None:
        return min(self.days) if self.days else None

    @property
    def last_day(self) -> dt.date | None:
        return max(self.days) if self.days else None

    def chunks(self) -> list[tuple[dt.date, dt.date]]:
        """The due days as one (first, last) range per calendar month: a move per month keeps
        transactions bounded and lets each emptied month partition go at once."""
        out: dict[dt.date, tuple[dt.date, dt.date]] = {}
        for day in sorted(self.days):
            m = month_start(day)
            first, _ = out.get(m, (day, day))
            out[m] = (first, day)
        return list(out.values())

    def within(self, first: dt.date | None, last: dt.date | None) -> TablePlan:
        """Only the due days inside [first, last] (None: open end)."""
        days = {d: n for d, n in self.days.items()
                if (first is None or d >= first) and (last is None or d <= last)}
        return TablePlan(self.table, self.cutoff, days, self.held_back)

    def as_json(self) -> dict:
        return {"table": self.table, "cutoff": self.cutoff.isoformat(), "days": len(self.days),
                "rows": self.rows,
                "first_day": self.first_day.isoformat() if self.first_day else None,
                "last_day": self.last_day.isoformat() if self.last_day else None,
                "held_back": self.held_back}


def cutoff_day(policy: TablePolicy, as_of: dt.date) -> dt.date:
    return as_of - dt.timedelta(days=policy.core_days)


def plan_table(conn: psycopg.Connection, table: str, policy: TablePolicy, zone: str,
               as_of: dt.date, before: dt.date | None = None) -> TablePlan:
    """Due days of `table` in the tier of `conn` (core), with rows per day.

    `before` (an emergency, e.g. the core quota sensor): every day before it is due too,
    ahead of the policy; the cutoff is the later of the two and never after `as_of`.
    """
    cutoff = cutoff_day(policy, as_of)
    if before is not None:
        cutoff = max(cutoff, min(before, as_of))
    if not table_exists(conn, table):
        return TablePlan(table, cutoff, {})
    day = day_expression(conn, table, policy, zone)
    # a row dated -infinity or BC is never due (tables.placeable): it stays in core
    due = sql.SQL("{d} < {c} and {p} and ({w})").format(d=day, c=sql.Literal(cutoff),
                                                        p=placeable(day),
                                                        w=only_when_condition(policy))
    refs = references.incoming(conn, table)
    rows = conn.execute(sql.SQL(
        "select {d} as day, count(*) from {t} t where {due} and {free} group by 1 order by 1"
    ).format(d=day, t=ident(table), due=due,
             free=references.unreferenced(refs, "t"))).fetchall()
    held = references.held_back(conn, table, refs, due)
    return TablePlan(table, cutoff, {d: int(n) for d, n in rows}, held)

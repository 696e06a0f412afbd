"""The one calendar: months and cut-off days every planner, route and reader agrees on.

A day is a calendar day in the person's zone (lib/pg/tables.day_expression says how a row's
day is computed); here only dates: which month a day is in, where a month ends, and which
days a retention policy has made due.
"""

from __future__ import annotations

import datetime as dt


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_span(month: dt.date) -> tuple[dt.date, dt.date]:
    """(first, last) day of the month `month` is in."""
    first = month_start(month)
    return first, next_month(first) - dt.timedelta(days=1)


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """First days of every month from `first`'s to `last`'s, in order."""
    out, month = [], month_start(first)
    while month <= last:
        out.append(month)
        month = next_month(month)
    return out


def cutoff(as_of: dt.date, days: int | None) -> dt.date | None:
    """Days before this date are past a policy of `days` (None: never)."""
    return None if days is None else as_of - dt.timedelta(days=days)

"""Days the morning runs missed (downtime): raw rows exist, a summary or projection does not.

Asked of the data every time (invariant 3): a day counts as missed when any raw table the
summary reads has a row on it, and `daily_summaries` or `daily_projections` has none.
"""

from __future__ import annotations

import datetime as dt

from ..tiering import reader
from ..tiering.reader import TieredReader
from . import metrics
from .context import DailyHandles
from .sources import person_sources


def window(daily: DailyHandles, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """[first, yesterday]: the last `daily.catch_up_days` days, never before start_date."""
    last = (today or daily.today()) - dt.timedelta(days=1)
    first = max(daily.start_date, last - dt.timedelta(days=daily.settings.catch_up_days - 1))
    return first, last


def _days(tiers: TieredReader, table: str, first: dt.date, last: dt.date, srcs
          ) -> set[dt.date]:
    rows = reader.read(tiers, table, first, last, columns=(), from_sources=srcs)
    return set(rows["day"]) if len(rows) else set()


def missing_days(daily: DailyHandles, today: dt.date | None = None) -> list[dt.date]:
    """Days of the window with raw rows but no summary or no projection, oldest first."""
    first, last = window(daily, today)
    if last < first:
        return []
    tiers = daily.reader
    srcs = reader.sources(tiers)
    raw: set[dt.date] = set()
    for source in person_sources(daily.settings, core=daily.core).values():  # summary's tables
        raw |= set(metrics.read_metric(tiers, source, first, last, srcs)["day"])
    done = (_days(tiers, "daily_summaries", first, last, srcs)
            & _days(tiers, "daily_projections", first, last, srcs))
    return sorted(raw - done)

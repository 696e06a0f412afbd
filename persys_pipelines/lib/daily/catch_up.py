"""Days the morning runs missed (downtime): raw rows exist, a summary or projection does not.

Asked of the data every time (invariant 3): a day counts as missed when any raw table the
summary reads has a row on it, and `daily_summaries` or `daily_projections` has none.
"""

from __future__ import annotations

import datetime as dt

from ..config import Config
from ..tiering import reader
from . import metrics
from .sources import person_sources


def window(cfg: Config, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """[first, yesterday]: the last `daily.catch_up_days` days, never before start_date."""
    last = (today or cfg.today()) - dt.timedelta(days=1)
    first = max(cfg.start_date, last - dt.timedelta(days=cfg.daily.catch_up_days - 1))
    return first, last


def _days(cfg: Config, table: str, first: dt.date, last: dt.date, srcs) -> set[dt.date]:
    rows = reader.read(cfg, table, first, last, columns=(), from_sources=srcs)
    return set(rows["day"]) if len(rows) else set()


def missing_days(cfg: Config, today: dt.date | None = None) -> list[dt.date]:
    """Days of the window with raw rows but no summary or no projection, oldest first."""
    first, last = window(cfg, today)
    if last < first:
        return []
    srcs = reader.sources(cfg)
    raw: set[dt.date] = set()
    for source in person_sources(cfg).values():  # the tables the summary reads
        raw |= set(metrics.read_metric(cfg, source, first, last, srcs)["day"])
    done = (_days(cfg, "daily_summaries", first, last, srcs)
            & _days(cfg, "daily_projections", first, last, srcs))
    return sorted(raw - done)

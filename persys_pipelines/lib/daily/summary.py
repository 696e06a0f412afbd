"""Daily summaries: what a day held (health, tasks, money, mood, shadow work), many days at once.

`compute(daily, first, last)` (daily: context.DailyHandles) reads each raw table once for the
whole range through the cross-tier reader and groups by day with pandas, so three years cost
five queries, not 5 × 1,095.
`store_days` writes the rows of a day range idempotently where new daily rows live (core), and
removes the same days from main so a day never exists in two tiers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ..config import TablePolicy
from ..config.daily import Daily
from ..tiering import reader
from ..tiering.reader import TieredReader
from . import metric_stats, sections
from .context import DailyHandles
from .sections import RawRows, days_between, read_raw  # noqa: F401  (re-exported)
from .summary_text import NO_DATA, describe, money  # noqa: F401  (NO_DATA, money: re-exported)

SECTIONS = ("health", "productivity", "finance", "mood", "shadow_work")


def raw_tables(settings: Daily) -> list[str]:
    """The person's tables the summary reads (daily.sources), in a stable order."""
    return sorted({s.table for s in settings.metric_sources().values()})


@dataclass
class DaySummary:
    day: dt.date
    health: dict = field(default_factory=dict)
    productivity: dict = field(default_factory=dict)
    finance: dict = field(default_factory=dict)
    mood: dict = field(default_factory=dict)
    shadow_work: dict = field(default_factory=dict)
    summary_text: str = ""
    metrics: dict = field(default_factory=dict)  # metric → value and statistics (insight)

    def row(self) -> tuple:
        return (self.day, *(json.dumps(getattr(self, s)) for s in SECTIONS), self.summary_text,
                json.dumps(self.metrics))


def read_for(daily: DailyHandles, first: dt.date, last: dt.date, srcs=None) -> RawRows:
    """The rows summaries of [first, last] need, with the history their statistics compare
    against (metric_stats.history_first)."""
    return read_raw(daily, metric_stats.history_first(first), last, srcs)


def compute(daily: DailyHandles, first: dt.date, last: dt.date, raw: RawRows | None = None, *,
            insight: bool = True) -> list[DaySummary]:
    """One summary per day of [first, last], days without data included (they say so), with
    each metric's statistics against the history in `raw` (`insight=False`: sections only)."""
    raw = raw if raw is not None else read_for(daily, first, last)
    settings = daily.settings
    days = days_between(first, last)
    out = {d: DaySummary(d) for d in days}
    for d, section in sections.health(raw).items():
        if d in out:
            out[d].health = section
    for d, section in sections.productivity(raw, days).items():
        out[d].productivity = section
    for d, section in sections.finance(settings, raw, days).items():
        out[d].finance = section
    for d, section in sections.mood(raw).items():
        if d in out:
            out[d].mood = section
    for d, section in sections.shadow(raw).items():
        if d in out:
            out[d].shadow_work = section
    if insight:
        for d, stats in metric_stats.compute(settings, raw, first, last).items():
            out[d].metrics = stats
    specs = metric_stats.specs(settings)
    for s in out.values():
        s.summary_text = describe(s, settings.currency, specs)
    return [out[d] for d in days]


# ---------------------------------------------------------------------------------------------
# Storage: idempotent, and one tier per day


def store_days(daily: DailyHandles, table: str, columns: Sequence[str], first: dt.date,
               last: dt.date, rows: Sequence[tuple]) -> dict[str, int]:
    """Replace days [first, last] of a daily table wherever each day lives (core, main, or the
    archive: lib/moves/rewrite.py), never leaving a second copy of a day in another tier.
    Returns rows written and replaced per tier."""
    from ..moves.engine import Engine
    from ..moves.rewrite import rewrite_days
    from ..pg.tables import TableSpec

    policy = daily.tables.get(table) or TablePolicy(day_column="day", core_days=10**6)
    targets = list(daily.targets) if table in daily.tables else []
    done = rewrite_days(Engine(daily.main), daily.core, targets,
                        TableSpec(table, policy, daily.reader.zone), first, last, columns, rows,
                        today=daily.today())
    return {"written": len(rows), "replaced_core": done.replaced.get("core", 0),
            "removed_main": done.replaced.get("main", 0), "restored": done.restored}


SUMMARY_COLUMNS = ("day", *SECTIONS, "summary_text", "metrics")


def store(daily: DailyHandles, first: dt.date, last: dt.date, summaries: Sequence[DaySummary]
          ) -> dict[str, int]:
    return store_days(daily, "daily_summaries", SUMMARY_COLUMNS, first, last,
                      [s.row() for s in summaries])


# ---------------------------------------------------------------------------------------------
# Sanity: stored summaries against the raw rows as they are now


def due_day(settings: Daily, zone: ZoneInfo, now: dt.datetime) -> dt.date:
    """The latest day whose summary must exist at `now`: yesterday once `freshness_hour` has
    passed in the configured zone, the day before until then."""
    local = now.astimezone(zone)
    return local.date() - dt.timedelta(days=1 if local.hour >= settings.freshness_hour else 2)


def missing_due_day(daily: DailyHandles, now: dt.datetime) -> dt.date | None:
    """The due day when its summary is missing at `now`, else None (also before start_date).
    One rule for the `summary_fresh` check and the hourly freshness schedule."""
    due = due_day(daily.settings, daily.zone, now)
    if due < daily.start_date or due in stored_days(daily.reader, due, due):
        return None
    return due


def stored_days(tiers: TieredReader, first: dt.date, last: dt.date) -> set[dt.date]:
    rows = reader.read(tiers, "daily_summaries", first, last, columns=("day",))
    return set(rows["day"])


CHECKED = (("health", "measurements"), ("health", "steps"), ("finance", "transactions"),
           ("finance", "net"), ("mood", "entries"), ("shadow_work", "entries"),
           ("productivity", "tasks_done"))


def verify(daily: DailyHandles, first: dt.date, last: dt.date, *, missing_ok: bool = False
           ) -> list[str]:
    """Problems with the stored summaries of [first, last]: missing days (unless missing_ok),
    negative durations, per-day totals that differ from the raw rows as they are now (e.g. rows
    that arrived after the summary was written)."""
    srcs = reader.sources(daily.reader)
    stored = reader.read(daily.reader, "daily_summaries", first, last, from_sources=srcs)
    by_day = {r.day: r for r in stored.itertuples()}
    fresh = {s.day: s for s in compute(daily, first, last, read_raw(daily, first, last, srcs),
                                       insight=False)}
    problems = []
    for day in days_between(first, last):
        row = by_day.get(day)
        if row is None:
            if not missing_ok:
                problems.append(f"{day}: no summary stored")
            continue
        for section, key in CHECKED:
            want = float(getattr(fresh[day], section).get(key) or 0)
            got = float((getattr(row, section) or {}).get(key) or 0)
            if abs(want - got) > 0.005:
                problems.append(f"{day}: {section}.{key} is {got:g}, raw rows give {want:g}")
        if ((row.health or {}).get("sleep_hours") or 0) < 0:
            problems.append(f"{day}: negative sleep_hours {row.health['sleep_hours']}")
        if (row.productivity or {}).get("negative_durations"):
            problems.append(f"{day}: {row.productivity['negative_durations']} task(s) completed "
                            "before they were created")
    return problems

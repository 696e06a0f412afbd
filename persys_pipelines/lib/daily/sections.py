"""The summary's sections (health, productivity, finance, mood, shadow work) from metric rows.

Each section function returns day → dict of plain JSON values. A metric without a source
(`daily.sources.<metric>: null`) gives None under its key, so the JSON keeps its shape and the
text and the briefing leave its sentence out. Two details exist only on the sample schema's
shape, because they need more than one aggregate: overdue tasks (and what follows from them)
need `tasks(status, created_at, due_date, completed_at)`, and the count of other-currency
transactions needs a `currency` filter on `spend`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from ..config.daily import Daily
from ..config.sources import Source, default_sources
from ..errors import TierError
from ..lazy import lazy_module
from ..pg.guard import why_refused
from ..tiering import reader
from ..tiering.reader import TieredReader
from . import metrics
from .context import DailyHandles
from .metrics import BY, per_day, per_day_by, rows_per_day
from .sources import person_sources

pd = lazy_module("pandas")

HEALTH = {"sleep_hours": ("sleep_hours", 2), "steps": ("steps", 0),
          "resting_heart_rate": ("resting_heart_rate", 1), "heart_rate": ("heart_rate_mean", 1),
          "weight_kg": ("weight_kg", 2)}  # metric → (key, digits)
TASK_DETAIL = ("overdue", "completion_rate", "hours_to_done_mean", "negative_durations")


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


class SourceError(TierError):
    """A `daily.sources` entry the database cannot serve (missing table, column, bad value)."""


@dataclass(frozen=True)
class RawRows:
    """The rows a range of summaries is computed from: one read per metric."""

    sources: dict[str, Source]
    frames: dict[str, pd.DataFrame]
    tasks: pd.DataFrame | None = None  # the sample shape's tasks, for overdue
    other_currency: pd.Series | None = None  # day → rows in another currency
    other_spend: pd.Series | None = None  # (day, currency) → spend in that other currency
    first: dt.date | None = None  # the first day read (history for the statistics)

    def counts(self) -> dict[str, int]:
        """Rows read per table (summed over the metrics it feeds)."""
        out: dict[str, int] = {}
        for metric, source in self.sources.items():
            out[source.table] = out.get(source.table, 0) + len(self.frames[metric])
        return out


def read_raw(daily: DailyHandles, first: dt.date, last: dt.date, srcs=None) -> RawRows:
    """One read per metric covering everything the days [first, last] need."""
    srcs = srcs if srcs is not None else reader.sources(daily.reader)
    sources = person_sources(daily.settings, core=daily.core)
    month_start = first.replace(day=1)  # month-to-date spend needs the month's earlier days
    frames = {m: _read(daily, m, s, month_start if m == "spend" else first, last, srcs)
              for m, s in sources.items()}
    defaults = default_sources(daily.settings.currency)
    tasks = None
    if all(sources.get(m) == defaults[m] for m in ("tasks_done", "tasks_created")):
        tasks = read_tasks(daily.reader, first, last, srcs)
    other = other_spend = None
    spend = sources.get("spend")
    if spend is not None and "currency" in spend.where:
        others = {k: v for k, v in spend.where.items() if k != "currency"}  # person stays
        rows = metrics.read_metric(daily.reader, spend.model_copy(update={"where": others,
                                                                 "by": "currency"}),
                                   first, last, srcs)
        mine = str(spend.where["currency"]).strip()
        rows = rows[rows[BY].map(lambda c: str(c).strip() != mine)]
        other = rows_per_day(rows)
        other_spend = per_day_by(rows.assign(**{BY: rows[BY].map(lambda c: str(c).strip())}),
                                 spend.agg) if len(rows) else None
    return RawRows(sources, frames, tasks, other, other_spend if other is not None else None,
                   first)


def _read(daily: DailyHandles, metric: str, source: Source, first: dt.date, last: dt.date,
          srcs) -> pd.DataFrame:
    """A metric's rows; a source the database cannot serve is named by its key."""
    settings = daily.settings
    try:
        return metrics.read_metric(daily.reader, source, first, last, srcs)
    except (reader.ReaderError, psycopg.Error) as exc:
        text = why_refused(exc, settings.statement_timeout_s) or (
            exc.diag.message_primary if isinstance(exc, psycopg.Error) and exc.diag
            else str(exc))
        drop = ("remove the metric from daily.metrics" if settings.metrics is not None
                else "set the metric to null")
        raise SourceError(
            f"{settings.source_key(metric)} ({source.table}.{source.value or 'rows'}): {text}; "
            f"fix it in persys.yaml or {drop} (`persys doctor` checks every source)"
        ) from None


def read_tasks(tiers: TieredReader, first: dt.date, last: dt.date, srcs) -> pd.DataFrame:
    tasks = reader.read(
        tiers, "tasks", first, None, include_undated=True, from_sources=srcs,
        columns=("status", "created_at", "due_date", "completed_at"),
        day_columns={"created_day": "created_at", "completed_day": "completed_at"},
    )
    tasks = tasks[tasks["created_day"] <= last].copy()  # open tasks, later completions
    for column in ("created_at", "completed_at"):
        tasks[column] = pd.to_datetime(tasks[column], utc=True)
    return tasks


def _r(value, digits: int = 2):
    return None if value is None or pd.isna(value) else round(float(value), digits)


def _value(raw: RawRows, metric: str) -> pd.Series | None:
    """day → value of a metric, None when the metric has no source."""
    source = raw.sources.get(metric)
    return None if source is None else per_day(raw.frames[metric], source.agg)


def health(raw: RawRows) -> dict[dt.date, dict]:
    present = [m for m in HEALTH if m in raw.sources]
    counts = [rows_per_day(raw.frames[m]) for m in present]
    if not counts:
        return {}
    measurements = pd.concat(counts).groupby(level=0).sum()
    values = {m: _value(raw, m) for m in HEALTH}
    out = {}
    for day, n in measurements.items():
        section: dict = {"measurements": int(n)}
        for metric, (key, digits) in HEALTH.items():
            series = values[metric]
            v = None if series is None else series.get(day)
            section[key] = _r(v, digits) if digits else (None if v is None or pd.isna(v)
                                                          else int(round(v)))
        out[day] = section
    return out


def productivity(raw: RawRows, days: Sequence[dt.date]) -> dict[dt.date, dict]:
    """Done and created per day; overdue = due on or before the day and still open at its end
    (sample shape only)."""
    done, created = _value(raw, "tasks_done"), _value(raw, "tasks_created")
    if done is None and created is None:
        return {}
    detail = _task_detail(raw.tasks, days) if raw.tasks is not None else {}
    out = {}
    for day in days:
        section: dict = {
            "tasks_done": None if done is None else int(done.get(day, 0)),
            "tasks_created": None if created is None else int(created.get(day, 0)),
        }
        section.update(detail.get(day, dict.fromkeys(TASK_DETAIL)))
        out[day] = section
    return out


def _task_detail(tasks: pd.DataFrame, days: Sequence[dt.date]) -> dict[dt.date, dict]:
    done = tasks[(tasks["status"] == "done") & tasks["completed_day"].notna()]
    done_per_day = done.groupby("completed_day").size()
    hours = (done["completed_at"] - done["created_at"]).dt.total_seconds() / 3600
    hours_mean = hours.groupby(done["completed_day"]).mean()
    negative = (hours < 0).groupby(done["completed_day"]).sum()
    dated = tasks[tasks["due_date"].notna()]
    due = pd.to_datetime(dated["due_date"]).to_numpy()
    created = pd.to_datetime(dated["created_day"]).to_numpy()
    finished = pd.to_datetime(
        dated["completed_day"].where(dated["status"] == "done")
    ).to_numpy()  # NaT: still open
    out = {}
    for day in days:
        d = pd.Timestamp(day).to_datetime64()
        open_at_end = pd.isna(finished) | (finished > d)
        overdue = int(((created <= d) & (due <= d) & open_at_end).sum())
        n_done = int(done_per_day.get(day, 0))
        out[day] = {
            "overdue": overdue,
            "completion_rate": _r(n_done / (n_done + overdue), 3) if n_done + overdue else None,
            "hours_to_done_mean": _r(hours_mean.get(day), 1),
            "negative_durations": int(negative.get(day, 0)),
        }
    return out


def finance(settings: Daily, raw: RawRows, days: Sequence[dt.date]) -> dict[dt.date, dict]:
    spend_src, income_src = raw.sources.get("spend"), raw.sources.get("income")
    if spend_src is None and income_src is None:
        return {}
    budget = settings.monthly_budget
    spend, income = _value(raw, "spend"), _value(raw, "income")
    counted = "spend" if spend_src is not None else "income"
    n = rows_per_day(raw.frames[counted])
    if spend_src is not None and income_src is not None and (
            (income_src.table, income_src.where) != (spend_src.table, spend_src.where)):
        n = n.add(rows_per_day(raw.frames["income"]), fill_value=0)
    by_cat = (per_day_by(raw.frames["spend"], spend_src.agg) if spend_src is not None
              and spend_src.by else pd.Series(dtype=float))
    by_cat = by_cat[by_cat > 0]
    mtd = None
    if spend is not None:
        daily_spend = spend.reindex(
            pd.Index(days_between(min(days).replace(day=1), max(days))), fill_value=0.0)
        mtd = daily_spend.groupby(_month_keys(daily_spend.index)).cumsum()
    cat_mtd = _category_mtd(by_cat, settings)
    out = {}
    for day in days:
        s = None if spend is None else float(spend.get(day, 0.0))
        i = None if income is None else float(income.get(day, 0.0))
        section: dict = {
            "currency": settings.currency,
            "transactions": int(n.get(day, 0)),
            # net only when both sides are tracked: income minus nothing is no net figure
            "spend": _r(s), "income": _r(i), "net": None if s is None or i is None else _r(i - s),
            "spend_by_category": (
                {c: _r(v) for c, v in by_cat.loc[day].items()} if day in by_cat.index else {}
            ),
            "month_to_date_spend": None if mtd is None else _r(mtd.loc[day]),
            "monthly_budget": budget,
            "budget_used_pct": _r(100 * mtd.loc[day] / budget, 1)
            if budget and mtd is not None else None,
        }
        if settings.category_budgets:
            section["category_budgets"] = {
                c: {"budget": b, "month_to_date": _r(cat_mtd.get((day, c), 0.0))}
                for c, b in settings.category_budgets.items()
            }
        if raw.other_currency is not None and raw.other_currency.get(day, 0):
            section["other_currency_transactions"] = int(raw.other_currency[day])
            spent = (raw.other_spend.loc[day] if raw.other_spend is not None
                     and day in raw.other_spend.index else {})
            section["spend_other_currencies"] = {str(c): _r(v) for c, v in spent.items()
                                                 if v and v > 0}
        out[day] = section
    return out


def _month_keys(days: pd.Index) -> list[int]:
    return [d.year * 12 + d.month for d in days]


def _category_mtd(by_cat: pd.Series, settings: Daily) -> dict[tuple[dt.date, str], float]:
    """Month-to-date spend of each budgeted category on each day it changes or is asked for."""
    if not settings.category_budgets or by_cat.empty:
        return {}
    frame = by_cat.unstack(fill_value=0.0)
    frame = frame.reindex(columns=list(settings.category_budgets), fill_value=0.0)
    idx = pd.Index(days_between(min(frame.index).replace(day=1), max(frame.index)))
    frame = frame.reindex(idx, fill_value=0.0)
    cum = frame.groupby(_month_keys(frame.index)).cumsum()
    return {(d, c): float(v) for (d, c), v in cum.stack().items()}


def mood(raw: RawRows) -> dict[dt.date, dict]:
    counted = next((m for m in ("mood", "journal_words") if m in raw.sources), None)
    if counted is None:
        return {}
    entries = rows_per_day(raw.frames[counted])
    mean, words = _value(raw, "mood"), _value(raw, "journal_words")
    return {
        day: {"entries": int(n),
              "mood_mean": None if mean is None else _r(mean.get(day)),
              "journal_words": None if words is None else int(words.get(day, 0))}
        for day, n in entries.items()
    }


def shadow(raw: RawRows) -> dict[dt.date, dict]:
    if "shadow_entries" not in raw.sources:
        return {}
    entries = rows_per_day(raw.frames["shadow_entries"])
    intensity = _value(raw, "shadow_intensity")
    out = {}
    for day, n in entries.items():
        section: dict = {"entries": int(n),
                         "intensity_mean": None if intensity is None else _r(intensity.get(day))}
        for metric, key in (("shadow_emotions", "emotions"), ("shadow_tags", "tags")):
            src = raw.sources.get(metric)
            counts = per_day_by(raw.frames[metric], src.agg) if src else pd.Series(dtype=float)
            section[key] = ({str(k): int(v) for k, v in sorted(counts.loc[day].items())}
                            if day in counts.index else {})
        out[day] = section
    return out

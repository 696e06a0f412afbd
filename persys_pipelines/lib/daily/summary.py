"""Daily summaries: what a day held (health, tasks, money, mood, shadow work), many days at once.

`compute(cfg, first, last)` reads each raw table once for the whole range through the cross-tier
reader and groups by day with pandas, so three years cost five queries, not 5 × 1,095.
`store_days` writes the rows of a day range idempotently where new daily rows live (core), and
removes the same days from main so a day never exists in two tiers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from psycopg import sql

from ..config import Config
from ..lazy import lazy_module
from ..pg.schema import table_exists
from ..pg.tiers import resolve_tier
from ..tiering import reader
from .summary_text import NO_DATA, describe, money  # noqa: F401  (NO_DATA, money: re-exported)

pd = lazy_module("pandas")

RAW_TABLES = ("journal_entries", "health_metrics", "tasks", "transactions", "shadow_work")
SECTIONS = ("health", "productivity", "finance", "mood", "shadow_work")


@dataclass
class DaySummary:
    day: dt.date
    health: dict = field(default_factory=dict)
    productivity: dict = field(default_factory=dict)
    finance: dict = field(default_factory=dict)
    mood: dict = field(default_factory=dict)
    shadow_work: dict = field(default_factory=dict)
    summary_text: str = ""

    def row(self) -> tuple:
        return (self.day, *(json.dumps(getattr(self, s)) for s in SECTIONS), self.summary_text)


@dataclass(frozen=True)
class RawRows:
    """The raw rows a range of summaries is computed from (one read per table)."""

    journal: pd.DataFrame
    health: pd.DataFrame
    tasks: pd.DataFrame
    transactions: pd.DataFrame
    shadow: pd.DataFrame

    def counts(self) -> dict[str, int]:
        return {
            "journal_entries": len(self.journal),
            "health_metrics": len(self.health),
            "tasks": len(self.tasks),
            "transactions": len(self.transactions),
            "shadow_work": len(self.shadow),
        }


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def read_raw(cfg: Config, first: dt.date, last: dt.date, srcs=None) -> RawRows:
    """One read per raw table covering everything the days [first, last] need."""
    srcs = srcs if srcs is not None else reader.sources(cfg)
    month_start = first.replace(day=1)  # month-to-date spend needs the month's earlier days
    tasks = reader.read(
        cfg, "tasks", first, None, include_undated=True, from_sources=srcs,
        columns=("status", "created_at", "due_date", "completed_at"),
        day_columns={"created_day": "created_at", "completed_day": "completed_at"},
    )
    tasks = tasks[tasks["created_day"] <= last].copy()  # open tasks, later completions
    for column in ("created_at", "completed_at"):
        tasks[column] = pd.to_datetime(tasks[column], utc=True)
    journal = reader.read(cfg, "journal_entries", first, last, from_sources=srcs,
                          columns=("mood", "body"))
    journal["mood"] = pd.to_numeric(journal["mood"]).astype(float)
    health = reader.read(cfg, "health_metrics", first, last, from_sources=srcs,
                         columns=("measured_at", "metric", "value"))
    health["value"] = pd.to_numeric(health["value"]).astype(float)
    money_rows = reader.read(cfg, "transactions", month_start, last, from_sources=srcs,
                             columns=("amount", "currency", "category"))
    money_rows["amount"] = pd.to_numeric(money_rows["amount"].astype(float))
    money_rows["currency"] = money_rows["currency"].astype(str).str.strip()
    shadow = reader.read(cfg, "shadow_work", first, last, from_sources=srcs,
                         columns=("emotion", "intensity", "tags"))
    shadow["intensity"] = pd.to_numeric(shadow["intensity"]).astype(float)
    return RawRows(journal=journal, health=health, tasks=tasks, transactions=money_rows,
                   shadow=shadow)


def compute(cfg: Config, first: dt.date, last: dt.date, raw: RawRows | None = None
            ) -> list[DaySummary]:
    """One summary per day of [first, last], days without data included (they say so)."""
    raw = raw if raw is not None else read_raw(cfg, first, last)
    days = days_between(first, last)
    out = {d: DaySummary(d) for d in days}
    for d, section in _health(raw.health).items():
        if d in out:
            out[d].health = section
    for d, section in _productivity(raw.tasks, days).items():
        out[d].productivity = section
    for d, section in _finance(cfg, raw.transactions, days).items():
        out[d].finance = section
    for d, section in _mood(raw.journal).items():
        if d in out:
            out[d].mood = section
    for d, section in _shadow(raw.shadow).items():
        if d in out:
            out[d].shadow_work = section
    for s in out.values():
        s.summary_text = describe(s, cfg.daily.currency)
    return [out[d] for d in days]


# ---------------------------------------------------------------------------------------------
# Sections: each returns day → dict of plain JSON values


def _r(value, digits: int = 2):
    return None if value is None or pd.isna(value) else round(float(value), digits)


def _health(rows: pd.DataFrame) -> dict[dt.date, dict]:
    if rows.empty:
        return {}
    rows = rows.sort_values("measured_at")
    by = rows.groupby(["day", "metric"])["value"]
    sums, means, lasts = by.sum(), by.mean(), by.last()
    counts = rows.groupby("day").size()
    out: dict[dt.date, dict] = {}
    for day, n in counts.items():
        def pick(series: pd.Series, metric: str, day=day):
            return series.get((day, metric))

        steps = pick(sums, "steps")
        out[day] = {
            "measurements": int(n),
            "sleep_hours": _r(pick(sums, "sleep_hours")),
            "steps": None if steps is None else int(round(steps)),
            "resting_heart_rate": _r(pick(means, "resting_heart_rate"), 1),
            "heart_rate_mean": _r(pick(means, "heart_rate"), 1),
            "weight_kg": _r(pick(lasts, "weight_kg"), 2),
        }
    return out


def _productivity(tasks: pd.DataFrame, days: Sequence[dt.date]) -> dict[dt.date, dict]:
    """Done and created per day; overdue = due on or before the day and still open at its end."""
    done = tasks[(tasks["status"] == "done") & tasks["completed_day"].notna()]
    done_per_day = done.groupby("completed_day").size()
    created_per_day = tasks.groupby("created_day").size()
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
        n_created = int(created_per_day.get(day, 0))
        out[day] = {
            "tasks_done": n_done,
            "tasks_created": n_created,
            "overdue": overdue,
            "completion_rate": _r(n_done / (n_done + overdue), 3) if n_done + overdue else None,
            "hours_to_done_mean": _r(hours_mean.get(day), 1),
            "negative_durations": int(negative.get(day, 0)),
        }
    return out


def _finance(cfg: Config, rows: pd.DataFrame, days: Sequence[dt.date]) -> dict[dt.date, dict]:
    budget = cfg.daily.monthly_budget
    other = rows[rows["currency"] != cfg.daily.currency]
    rows = rows[rows["currency"] == cfg.daily.currency].copy()
    rows["spend"] = (-rows["amount"]).clip(lower=0)
    per_day = rows.groupby("day").agg(
        n=("amount", "size"), net=("amount", "sum"), spend=("spend", "sum"),
        income=("amount", lambda a: a[a > 0].sum()),
    )
    by_cat = rows[rows["spend"] > 0].groupby(["day", "category"])["spend"].sum()
    other_per_day = other.groupby("day").size()
    daily_spend = per_day["spend"].reindex(
        pd.Index(days_between(min(days).replace(day=1), max(days))), fill_value=0.0
    )
    mtd = daily_spend.groupby(_month_keys(daily_spend.index)).cumsum()
    cat_mtd = _category_mtd(by_cat, cfg)
    out = {}
    for day in days:
        has = day in per_day.index
        section: dict = {
            "currency": cfg.daily.currency,
            "transactions": int(per_day.at[day, "n"]) if has else 0,
            "spend": _r(per_day.at[day, "spend"]) if has else 0.0,
            "income": _r(per_day.at[day, "income"]) if has else 0.0,
            "net": _r(per_day.at[day, "net"]) if has else 0.0,
            "spend_by_category": (
                {c: _r(v) for c, v in by_cat.loc[day].items()} if day in by_cat.index else {}
            ),
            "month_to_date_spend": _r(mtd.loc[day]),
            "monthly_budget": budget,
            "budget_used_pct": _r(100 * mtd.loc[day] / budget, 1) if budget else None,
        }
        if cfg.daily.category_budgets:
            section["category_budgets"] = {
                c: {"budget": b, "month_to_date": _r(cat_mtd.get((day, c), 0.0))}
                for c, b in cfg.daily.category_budgets.items()
            }
        if other_per_day.get(day, 0):
            section["other_currency_transactions"] = int(other_per_day[day])
        out[day] = section
    return out


def _month_keys(days: pd.Index) -> list[int]:
    return [d.year * 12 + d.month for d in days]


def _category_mtd(by_cat: pd.Series, cfg: Config) -> dict[tuple[dt.date, str], float]:
    """Month-to-date spend of each budgeted category on each day it changes or is asked for."""
    if not cfg.daily.category_budgets or by_cat.empty:
        return {}
    frame = by_cat.unstack(fill_value=0.0)
    frame = frame.reindex(columns=list(cfg.daily.category_budgets), fill_value=0.0)
    idx = pd.Index(days_between(min(frame.index).replace(day=1), max(frame.index)))
    frame = frame.reindex(idx, fill_value=0.0)
    cum = frame.groupby(_month_keys(frame.index)).cumsum()
    return {(d, c): float(v) for (d, c), v in cum.stack().items()}


def _mood(rows: pd.DataFrame) -> dict[dt.date, dict]:
    if rows.empty:
        return {}
    rows = rows.assign(words=rows["body"].fillna("").str.split().str.len())
    agg = rows.groupby("day").agg(entries=("body", "size"), mood=("mood", "mean"),
                                  words=("words", "sum"))
    return {
        day: {"entries": int(r.entries), "mood_mean": _r(r.mood), "journal_words": int(r.words)}
        for day, r in agg.iterrows()
    }


def _shadow(rows: pd.DataFrame) -> dict[dt.date, dict]:
    out = {}
    for day, group in rows.groupby("day"):
        tags = pd.Series([t for ts in group["tags"] for t in ts], dtype=object)
        out[day] = {
            "entries": len(group),
            "intensity_mean": _r(group["intensity"].mean()),
            "emotions": {k: int(v) for k, v in sorted(group["emotion"].value_counts().items())},
            "tags": {k: int(v) for k, v in sorted(tags.value_counts().items())},
        }
    return out


# ---------------------------------------------------------------------------------------------
# Storage: idempotent, and one tier per day


def store_days(cfg: Config, table: str, columns: Sequence[str], first: dt.date, last: dt.date,
               rows: Sequence[tuple]) -> dict[str, int]:
    """Replace days [first, last] of a daily table: delete-then-COPY in core in one transaction,
    then delete the same days from main (after core committed, so a crash between the two can
    leave a day in both tiers for a moment, never in neither; running again repairs it).
    Returns rows deleted per tier and rows written."""
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    ident = sql.Identifier(table)
    delete = sql.SQL("delete from {} where day between %s and %s").format(ident)
    copy = sql.SQL("copy {} ({}) from stdin").format(
        ident, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with core.connect() as conn, conn.transaction(), conn.cursor() as cur:
        deleted_core = cur.execute(delete, (first, last)).rowcount
        with cur.copy(copy) as cp:
            for row in rows:
                cp.write_row(row)
    deleted_main = 0
    with main.connect() as conn:
        if table_exists(conn, table):
            with conn.transaction():
                deleted_main = conn.execute(delete, (first, last)).rowcount
    return {"written": len(rows), "replaced_core": deleted_core, "removed_main": deleted_main}


SUMMARY_COLUMNS = ("day", *SECTIONS, "summary_text")


def store(cfg: Config, first: dt.date, last: dt.date, summaries: Sequence[DaySummary]
          ) -> dict[str, int]:
    return store_days(cfg, "daily_summaries", SUMMARY_COLUMNS, first, last,
                      [s.row() for s in summaries])


# ---------------------------------------------------------------------------------------------
# Sanity: stored summaries against the raw rows as they are now


def due_day(cfg: Config, now: dt.datetime) -> dt.date:
    """The latest day whose summary must exist at `now`: yesterday once `freshness_hour` has
    passed in the configured zone, the day before until then."""
    local = now.astimezone(cfg.zone)
    return local.date() - dt.timedelta(days=1 if local.hour >= cfg.daily.freshness_hour else 2)


def missing_due_day(cfg: Config, now: dt.datetime) -> dt.date | None:
    """The due day when its summary is missing at `now`, else None (also before start_date).
    One rule for the `summary_fresh` check and the hourly freshness schedule."""
    due = due_day(cfg, now)
    if due < cfg.start_date or due in stored_days(cfg, due, due):
        return None
    return due


def stored_days(cfg: Config, first: dt.date, last: dt.date) -> set[dt.date]:
    rows = reader.read(cfg, "daily_summaries", first, last, columns=("day",))
    return set(rows["day"])


def verify(cfg: Config, first: dt.date, last: dt.date, *, missing_ok: bool = False
           ) -> list[str]:
    """Problems with the stored summaries of [first, last]: missing days (unless missing_ok),
    negative durations, per-day totals that differ from the raw rows (e.g. rows that arrived
    after the summary was written)."""
    srcs = reader.sources(cfg)
    stored = reader.read(cfg, "daily_summaries", first, last, from_sources=srcs)
    by_day = {r.day: r for r in stored.itertuples()}
    raw = read_raw(cfg, first, last, srcs)
    money_rows = raw.transactions[raw.transactions["currency"] == cfg.daily.currency]
    expected = {
        ("health", "measurements"): raw.health.groupby("day").size(),
        ("health", "steps"): raw.health[raw.health["metric"] == "steps"]
        .groupby("day")["value"].sum(),
        ("finance", "transactions"): money_rows.groupby("day").size(),
        ("finance", "net"): money_rows.groupby("day")["amount"].sum(),
        ("mood", "entries"): raw.journal.groupby("day").size(),
        ("shadow_work", "entries"): raw.shadow.groupby("day").size(),
        ("productivity", "tasks_done"): raw.tasks[raw.tasks["status"] == "done"]
        .groupby("completed_day").size(),
    }
    problems = []
    for day in days_between(first, last):
        row = by_day.get(day)
        if row is None:
            if not missing_ok:
                problems.append(f"{day}: no summary stored")
            continue
        for (section, key), series in expected.items():
            want = float(series.get(day, 0) or 0)
            got = float(getattr(row, section).get(key) or 0)
            if abs(want - got) > 0.005:
                problems.append(f"{day}: {section}.{key} is {got:g}, raw rows give {want:g}")
        if (row.health.get("sleep_hours") or 0) < 0:
            problems.append(f"{day}: negative sleep_hours {row.health['sleep_hours']}")
        if row.productivity.get("negative_durations"):
            problems.append(f"{day}: {row.productivity['negative_durations']} task(s) completed "
                            "before they were created")
    return problems

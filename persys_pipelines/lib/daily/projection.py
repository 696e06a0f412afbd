"""Daily projections: trends of the trailing window of summaries, with uncertainty bands.

For each day D the window is the `projection_window_days` days ending on D. Each of the
person's metrics gets a least-squares line over the window (x = days before D) and a 95%
prediction interval at D + `forecast_days` from the residual spread (and the same band at D
itself, so it never starts with zero width); a metric never negative in the window is clipped
at 0. Every metric with a goal gets the date the goal is reached on the current trend, with a
95% interval, or "not at this rate" (insight/goals.py). Spend is projected to the month's end
from the month-to-date and a daily rate robust to one-off payments (see `month_end`), against
the monthly budget.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..config.daily import Daily
from ..lazy import lazy_module
from ..tiering import reader
from .context import DailyHandles
from .summary import days_between, store_days
from .summary_text import money

np = lazy_module("numpy")
pd = lazy_module("pandas")

Z95 = 1.96
CHART_DAYS = 90  # the chart shows this much history (a band needs more than a month)
# a summary stored before daily_summaries.metrics existed: metric → (section, key)
METRICS: dict[str, tuple[str, str]] = {
    "weight_kg": ("health", "weight_kg"),
    "sleep_hours": ("health", "sleep_hours"),
    "steps": ("health", "steps"),
    "resting_heart_rate": ("health", "resting_heart_rate"),
    "tasks_done": ("productivity", "tasks_done"),
    "spend": ("finance", "spend"),
    "mood": ("mood", "mood_mean"),
}
PROJECTION_COLUMNS = ("day", "window_days", "projections", "chart_uri")


@dataclass(frozen=True)
class Series:
    """Metric values by day over [first - window + 1, last], NaN where a day has none, and each
    day's stored statistics (`stats[metric][i]`: baseline, anomaly, change; for the chart)."""

    days: list[dt.date]
    values: dict[str, np.ndarray]
    month_to_date: np.ndarray
    stats: dict[str, list] = field(default_factory=dict)

    def index(self, day: dt.date) -> int:
        return (day - self.days[0]).days


def series_from_summaries(summaries: pd.DataFrame, first: dt.date, last: dt.date) -> Series:
    days = days_between(first, last)
    pos = {d: i for i, d in enumerate(days)}
    values: dict[str, np.ndarray] = {}
    stats: dict[str, list] = {}
    mtd = np.full(len(days), np.nan)

    def put(metric: str, i: int, value, detail=None) -> None:
        if metric not in values:
            values[metric], stats[metric] = np.full(len(days), np.nan), [None] * len(days)
        if value is not None:
            values[metric][i] = float(value)
        stats[metric][i] = detail

    for row in summaries.to_dict("records"):
        i = pos.get(row["day"])
        if i is None:
            continue
        per_metric = row.get("metrics") or {}
        for metric, detail in per_metric.items():
            put(metric, i, (detail or {}).get("value"), detail)
        if not per_metric:  # stored before the metrics column: the sample metrics' sections
            for metric, (section, key) in METRICS.items():
                put(metric, i, (row.get(section) or {}).get(key))
        value = (row.get("finance") or {}).get("month_to_date_spend")
        if value is not None:
            mtd[i] = float(value)
    return Series(days, values, mtd, stats)


def read_series(daily: DailyHandles, first: dt.date, last: dt.date) -> Series:
    """The summaries the projections and charts of [first, last] need, from any tier."""
    start = first - dt.timedelta(days=max(daily.settings.projection_window_days, CHART_DAYS) - 1)
    stored = reader.read(daily.reader, "daily_summaries", start, last,
                         columns=("health", "productivity", "finance", "mood", "metrics"))
    return series_from_summaries(stored, start, last)


def trend(y: np.ndarray, horizon: int) -> dict:
    """Line through the window (x = 0 on its last day) and a 95% prediction band at x=horizon."""
    x = np.arange(len(y), dtype=float) - (len(y) - 1)
    ok = ~np.isnan(y)
    n = int(ok.sum())
    if n == 0:
        return {"n": 0}
    xs, ys = x[ok], y[ok]
    out: dict = {"n": n, "mean": round(float(ys.mean()), 3), "last": round(float(ys[-1]), 3)}
    if n < 3 or np.ptp(xs) == 0:
        return out
    xbar = xs.mean()
    sxx = float(((xs - xbar) ** 2).sum())
    slope = float(((xs - xbar) * (ys - ys.mean())).sum() / sxx)
    intercept = float(ys.mean() - slope * xbar)
    resid = ys - (intercept + slope * xs)
    sd = math.sqrt(float((resid**2).sum()) / (n - 2)) if n > 2 else 0.0

    floor = 0.0 if ys.min() >= 0 else -math.inf  # a metric never negative stays so

    def band(x: float) -> dict:
        """The 95% prediction interval at x (clipped at 0 for a metric never negative)."""
        value = intercept + slope * x
        half = Z95 * sd * math.sqrt(1 + 1 / n + (x - xbar) ** 2 / sxx)
        return {"value": round(max(floor, value), 3), "low": round(max(floor, value - half), 3),
                "high": round(max(floor, value + half), 3)}

    out.update({
        "slope_per_day": round(slope, 5),
        "fitted_today": round(intercept, 3),
        "residual_sd": round(sd, 4),
        "today": band(0.0),
        "forecast": {"days_ahead": horizon, **band(float(horizon))},
    })
    return out


def trends(y: np.ndarray, window: int, horizon: int, report: list[int]) -> list[dict]:
    """`trend` of the `window` days ending at each report index, every window at once
    (equal to `trend`, which a test checks; 15 metrics × 1,095 days one by one cost seconds)."""
    from ..insight.windows import ending

    w = ending(y, window)[report]
    x = np.arange(window, dtype=float) - (window - 1)
    ok = ~np.isnan(w)
    n = ok.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ybar = np.where(ok, w, 0).sum(axis=1) / n
        xbar = np.where(ok, x, 0).sum(axis=1) / n
        dx = np.where(ok, x - xbar[:, None], 0)
        sxx = (dx ** 2).sum(axis=1)
        slope = (dx * np.where(ok, w - ybar[:, None], 0)).sum(axis=1) / sxx
        intercept = ybar - slope * xbar
        ss = np.where(ok, (w - (intercept[:, None] + slope[:, None] * x)) ** 2, 0).sum(axis=1)
        sd = np.sqrt(ss / (n - 2))
    last = w[np.arange(len(w)), window - 1 - np.argmax(ok[:, ::-1], axis=1)]
    low = np.where(ok, w, np.inf).min(axis=1)
    out = []
    for i in range(len(w)):
        if n[i] == 0:
            out.append({"n": 0})
            continue
        t: dict = {"n": int(n[i]), "mean": round(float(ybar[i]), 3),
                   "last": round(float(last[i]), 3)}
        if n[i] >= 3:
            floor = 0.0 if low[i] >= 0 else -math.inf

            def band(at: float, i: int = i, floor: float = floor) -> dict:
                value = intercept[i] + slope[i] * at
                half = Z95 * sd[i] * math.sqrt(1 + 1 / n[i] + (at - xbar[i]) ** 2 / sxx[i])
                return {"value": round(max(floor, value), 3),
                        "low": round(max(floor, value - half), 3),
                        "high": round(max(floor, value + half), 3)}

            t.update({"slope_per_day": round(float(slope[i]), 5),
                      "fitted_today": round(float(intercept[i]), 3),
                      "residual_sd": round(float(sd[i]), 4), "today": band(0.0),
                      "forecast": {"days_ahead": horizon, **band(float(horizon))}})
        out.append(t)
    return out


def one_off_days(spend: np.ndarray) -> np.ndarray:
    """Days whose spend is far above the window's usual (above Q3 + 3 × IQR, Tukey's far-out
    fence): rent, a flight, a laptop. They are in month-to-date already and do not recur daily."""
    q1, q3 = np.percentile(spend, [25, 75])
    return spend > q3 + 3 * (q3 - q1)


def month_end(settings: Daily, day: dt.date, spend: np.ndarray, mtd: float | None) -> dict:
    """Month-end spend: month-to-date plus a daily rate for the days left. The rate is the mean
    daily spend of the window without its one-off days (`one_off_days`), so one rent payment in
    the window does not project as if it were paid every day; band from the remaining days'
    spread (days independent: sd × √days_left), never below month-to-date."""
    known = spend[~np.isnan(spend)]
    left = calendar.monthrange(day.year, day.month)[1] - day.day
    budget = settings.monthly_budget
    if mtd is None or known.size == 0:
        return {"days_left": left, "budget": budget, "projected": None}
    usual = known[~one_off_days(known)] if known.size >= 4 else known
    rate = max(0.0, float(usual.mean()))
    sd = float(usual.std(ddof=1)) if usual.size > 1 else 0.0
    projected = mtd + rate * left
    half = Z95 * sd * math.sqrt(left)
    out = {
        "days_left": left, "month_to_date": round(mtd, 2), "daily_rate": round(rate, 2),
        "one_off_days": int(known.size - usual.size),
        "projected": round(projected, 2), "low": round(max(mtd, projected - half), 2),
        "high": round(projected + half, 2), "budget": budget,
    }
    if budget:
        out["projected_pct_of_budget"] = round(100 * projected / budget, 1)
        out["status"] = ("over" if mtd > budget else "likely over" if out["low"] > budget
                         else "at risk" if out["high"] > budget else "on track")
    return out


def project(settings: Daily, series: Series, first: dt.date, last: dt.date) -> list[tuple]:
    """(day, window_days, projections) for every day of [first, last] (`daily:` settings)."""
    from ..insight.goals import goal_projections

    window, horizon = settings.projection_window_days, settings.forecast_days
    defs = settings.metric_defs()
    goals = {m: d.target for m, d in defs.items() if d.target is not None}
    blank = np.full(len(series.days), np.nan)
    values = {m: series.values.get(m, blank) for m in defs}
    days = days_between(first, last)
    report = [series.index(d) for d in days]
    lines = {m: trends(v, window, horizon, report) for m, v in values.items()}
    dated = {m: goal_projections(values[m], window, report, series.days, g.min, g.max)
             for m, g in goals.items()}
    spend_values = series.values.get("spend", blank)
    out = []
    for k, day in enumerate(days):
        end = report[k] + 1
        start = max(0, end - window)
        mtd = series.month_to_date[end - 1]
        spend = month_end(settings, day, spend_values[start:end],
                          None if np.isnan(mtd) else float(mtd))
        days_with_data = int(np.any([~np.isnan(v[start:end]) for v in values.values()]
                                    or [blank[start:end] == 0], axis=0).sum())
        body = {"days_with_data": days_with_data,
                "trends": {m: lines[m][k] for m in values}, "month_end_spend": spend,
                "goals": {m: dated[m][k] for m in goals}}
        body["text"] = describe(body, settings.currency, defs)
        out.append((day, window, body))
    return out


def describe(p: dict, currency: str, defs: dict | None = None) -> str:
    """One short paragraph a person reads (and the voice briefing can speak)."""
    if not p["days_with_data"]:
        return "Not enough data for projections yet."
    parts = []
    for metric, g in (p.get("goals") or {}).items():
        d = (defs or {}).get(metric)
        if not g or d is None:
            continue
        label, target = d.name_label(metric), d.target.words(d.unit)
        if g["status"] == "reached":
            parts.append(f"{label} at its goal ({target})")
        elif g["status"] == "on the way":
            until = f"–{_day(g['latest'])}" if g.get("latest") else " or later"
            parts.append(f"{label} reaches {target} around {_day(g['date'])} "
                         f"({_day(g['earliest'])}{until})")
        else:
            parts.append(f"{label} does not reach {target} at this rate")
    s = p["month_end_spend"]
    if s.get("projected") is not None:
        text = (f"month-end spend {money(s['projected'], currency)} "
                f"({money(s['low'], currency)}–{money(s['high'], currency)})")
        if s.get("budget"):
            text += f" of {money(s['budget'], currency)} budget: {s['status']}"
        parts.append(text)
    return ("Projections: " + "; ".join(parts) + ".") if parts else "Too little data for trends."


def _day(iso: str) -> str:
    day = dt.date.fromisoformat(iso)
    return f"{day.day} {day:%b}"


def store(daily: DailyHandles, first: dt.date, last: dt.date, rows: Sequence[tuple],
          charts: dict[dt.date, str]) -> dict[str, int]:
    table_rows = [(d, w, json.dumps(p), charts.get(d)) for d, w, p in rows]
    return store_days(daily, "daily_projections", PROJECTION_COLUMNS, first, last, table_rows)

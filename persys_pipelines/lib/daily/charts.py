"""The chart of a day: one panel per metric of the person's, as a PNG legible on a phone.

Each panel shows the last 90 days (dates on the x axis): the values, the person's usual (the
60-day median with ± one robust standard deviation as a band), the goal (a line, or a band for
a range), anomalies (red rings), the latest change point (a dashed line, "since 14 Nov") and
the trend of the projection window with its 95% band `forecast_days` ahead. Panels without a
value in the window are left out. 1200 px wide; one legend for all panels.

Saved as `<home>/charts/<yyyy>/<mm>/<day>.png` (`charts_dir`: `<home>/charts`). Uses
`Figure` + `FigureCanvasAgg` directly, so it never opens a window, needs no display and keeps
no global figure registry.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from pathlib import Path

from ..config.daily import Daily
from ..lazy import lazy_module
from .projection import CHART_DAYS, Series

np = lazy_module("numpy")
agg = lazy_module("matplotlib.backends.backend_agg")
mfigure = lazy_module("matplotlib.figure")
mdates = lazy_module("matplotlib.dates")
mlines = lazy_module("matplotlib.lines")
mpatches = lazy_module("matplotlib.patches")

DPI, WIDTH_IN, ROW_IN, COLUMNS = 100, 12.0, 2.4, 2  # 1200 px wide
VALUE, USUAL, GOAL, ODD, CHANGE, TREND = ("#2c5d95", "#9aa5b1", "#2e8b57", "#d62728",
                                          "#ff7f0e", "#8c564b")


def chart_path(charts_dir: Path, day: dt.date) -> Path:
    return charts_dir / f"{day:%Y}" / f"{day:%m}" / f"{day.isoformat()}.png"


def render(settings: Daily, charts_dir: Path, day: dt.date, series: Series, projection: dict
           ) -> Path:
    """Draw the day's chart and save it under `charts_dir`; returns the file."""
    fig = draw(settings, day, series, projection)
    path = chart_path(charts_dir, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def panels(settings: Daily, series: Series, start: int, end: int) -> list[str]:
    """The metrics to draw: the person's, in config order, with a value in the window."""
    names = [m for m in settings.metric_defs() if m in series.values]
    return [m for m in names if (~np.isnan(series.values[m][start:end])).any()]


def draw(settings: Daily, day: dt.date, series: Series, projection: dict) -> mfigure.Figure:
    end = series.index(day) + 1
    start = max(0, end - CHART_DAYS)
    x = series.days[start:end]  # dates on the x axis
    names = panels(settings, series, start, end)
    rows = max(1, math.ceil(len(names) / COLUMNS))
    fig = mfigure.Figure(figsize=(WIDTH_IN, 1.2 + ROW_IN * rows), dpi=DPI)
    agg.FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(rows, COLUMNS, squeeze=False)).ravel()
    defs = settings.metric_defs()
    for ax, metric in zip(axes, names, strict=False):
        _panel(settings, ax, day, x, metric, defs[metric], series, start, end, projection)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    if not names:
        axes[0].set_visible(True)
        axes[0].text(0.5, 0.5, "no values in the last 90 days", ha="center", va="center",
                     transform=axes[0].transAxes)
        axes[0].set_axis_off()
    height = 1.2 + ROW_IN * rows
    fig.suptitle(f"{day:%A %d %B %Y}: the last {CHART_DAYS} days", fontsize=14,
                 y=1 - 0.12 / height)
    fig.legend(handles=_legend(), loc="upper center", ncol=6, fontsize=10, frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.5 / height))
    fig.subplots_adjust(left=0.06, right=0.98, top=1 - 1.0 / (1.2 + ROW_IN * rows),
                        bottom=0.35 / (1.2 + ROW_IN * rows), hspace=0.55, wspace=0.15)
    return fig


def _panel(settings: Daily, ax, day: dt.date, x: list, metric: str, d, series: Series,
           start: int, end: int, projection: dict) -> None:
    y = series.values[metric][start:end]
    stats = series.stats.get(metric, [None] * len(series.days))[start:end]
    usual = np.array([np.nan if not s or s.get("median_60") is None else s["median_60"]
                      for s in stats], dtype=float)
    spread = np.array([np.nan if not s or s.get("spread_60") is None else s["spread_60"]
                       for s in stats], dtype=float)
    floor = 0.0 if np.nanmin(np.append(y, np.inf)) >= 0 else -np.inf  # never below 0 if y isn't
    ax.fill_between(x, np.maximum(usual - spread, floor), usual + spread, color=USUAL,
                    alpha=0.25, lw=0)
    ax.plot(x, usual, color=USUAL, lw=1, ls="--")
    ax.plot(x, y, "-o", ms=2.5, lw=0.8, color=VALUE)
    odd = [i for i, s in enumerate(stats) if s and s.get("anomaly")]
    if odd:
        ax.plot([x[i] for i in odd], y[odd], "o", ms=9, mfc="none", mec=ODD, mew=1.6)
    goal = d.target
    if goal is not None:
        if goal.min is not None and goal.max is not None:
            ax.axhspan(goal.min, goal.max, color=GOAL, alpha=0.12, lw=0)
        for bound in (goal.min, goal.max):
            if bound is not None:
                ax.axhline(bound, color=GOAL, lw=1.2, ls=":")
    last = stats[-1] if stats else None
    change = (last or {}).get("change")
    if change:
        when = dt.date.fromisoformat(change["day"])
        if x[0] <= when <= x[-1]:
            ax.axvline(when, color=CHANGE, lw=1.4, ls="--")
            ax.annotate(f"since {when.day} {when:%b}", (when, 1.0), xycoords=("data", "axes "
                        "fraction"), xytext=(3, -10), textcoords="offset points",
                        color=CHANGE, fontsize=8)
    _trend(ax, day, projection.get("trends", {}).get(metric, {}), settings)
    unit = f" ({d.unit})" if d.unit else ""
    ax.set_title(_title(metric, d, unit, projection), fontsize=11, loc="left")
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=6))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.tick_params(labelsize=9)
    ax.grid(alpha=0.2)


def _title(metric: str, d, unit: str, projection: dict) -> str:
    title = d.name_label(metric) + unit
    spend = projection.get("month_end_spend") or {}
    if metric == "spend" and spend.get("projected") is not None:
        title += f" — month end {spend['projected']:,.0f}" + (
            f" of {spend['budget']:,.0f}" if spend.get("budget") else "")
    return title.replace("$", r"\$")  # a label's `$` is text, not matplotlib's maths


def _trend(ax, day: dt.date, t: dict, daily) -> None:
    """The projection window's line and its band `forecast_days` ahead."""
    if "slope_per_day" not in t:
        return
    f, now = t["forecast"], t.get("today")
    ahead = day + dt.timedelta(days=f["days_ahead"])
    begin = day - dt.timedelta(days=daily.projection_window_days - 1)
    xs = [begin, day, ahead]
    offsets = np.array([-(daily.projection_window_days - 1), 0, f["days_ahead"]], dtype=float)
    ax.plot(xs, t["fitted_today"] + t["slope_per_day"] * offsets, color=TREND, lw=1.3)
    low0, high0 = (now["low"], now["high"]) if now else (t["fitted_today"],) * 2
    ax.fill_between([day, ahead], [low0, f["low"]], [high0, f["high"]], color=TREND,
                    alpha=0.18, lw=0)


def _legend() -> list:
    return [
        mlines.Line2D([], [], color=VALUE, marker="o", ms=4, lw=0.8, label="value"),
        mpatches.Patch(color=USUAL, alpha=0.4, label="your usual (60-day median ± spread)"),
        mlines.Line2D([], [], color=GOAL, ls=":", lw=1.5, label="goal"),
        mlines.Line2D([], [], color=ODD, marker="o", mfc="none", ls="none", ms=8,
                      label="anomaly"),
        mlines.Line2D([], [], color=CHANGE, ls="--", label="change point"),
        mlines.Line2D([], [], color=TREND, lw=1.3, label="trend, 95% band ahead"),
    ]


def markdown_image(path: Path, alt: str) -> str:
    """The chart inline in Dagster metadata (a data URI: the UI cannot read the server's disk)."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"![{alt}](data:image/png;base64,{data})"

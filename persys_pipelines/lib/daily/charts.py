"""The projection chart of a day: four small panels as a PNG (matplotlib, Agg, no pyplot state).

Saved as `<home>/charts/<yyyy>/<mm>/<day>.png`. Uses `Figure` + `FigureCanvasAgg` directly, so
it never opens a window, needs no display and keeps no global figure registry.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

from ..config import Config
from ..lazy import lazy_module
from .projection import Series

np = lazy_module("numpy")
agg = lazy_module("matplotlib.backends.backend_agg")
mfigure = lazy_module("matplotlib.figure")
mdates = lazy_module("matplotlib.dates")

PANELS = (("weight_kg", "weight (kg)"), ("sleep_hours", "sleep (h)"),
          ("tasks_done", "tasks done"), ("spend", "spend / day"))
DPI = 72


def chart_path(cfg: Config, day: dt.date) -> Path:
    return cfg.home / "charts" / f"{day:%Y}" / f"{day:%m}" / f"{day.isoformat()}.png"


def render(cfg: Config, day: dt.date, series: Series, projection: dict) -> Path:
    """Draw the window ending on `day` with each trend line and its forecast band."""
    fig = draw(cfg, day, series, projection)
    path = chart_path(cfg, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def draw(cfg: Config, day: dt.date, series: Series, projection: dict) -> mfigure.Figure:
    """The figure: points/bars by date, the trend, its band from today's interval onwards."""
    window = cfg.daily.projection_window_days
    end = series.index(day) + 1
    start = max(0, end - window)
    offsets = np.arange(start - end + 1, 1)
    x = [day + dt.timedelta(days=int(o)) for o in offsets]  # dates on the x axis
    fig = mfigure.Figure(figsize=(8, 5), dpi=DPI)
    agg.FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    for ax, (metric, label) in zip(axes.flat, PANELS, strict=True):
        y = series.values[metric][start:end]
        if metric in ("tasks_done", "spend"):
            ax.bar(x, np.nan_to_num(y), color="#9db4d3", width=0.8)
        else:
            ax.plot(x, y, "o", ms=3, color="#2c5d95")
        t = projection["trends"].get(metric, {})
        if "slope_per_day" in t:
            f, now = t["forecast"], t.get("today")
            ahead = day + dt.timedelta(days=f["days_ahead"])
            fx = np.array([offsets[0], 0, f["days_ahead"]], dtype=float)
            line = np.maximum(0.0, t["fitted_today"] + t["slope_per_day"] * fx)
            ax.plot([x[0], day, ahead], line, color="#d2691e", lw=1.5)
            low0, high0 = (now["low"], now["high"]) if now else (t["fitted_today"],) * 2
            ax.fill_between([day, ahead], [low0, f["low"]], [high0, f["high"]],
                            color="#d2691e", alpha=0.2, lw=0)
            ax.vlines(ahead, f["low"], f["high"], color="#d2691e", lw=1)
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=5))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=7)
    spend = projection["month_end_spend"]
    if spend.get("projected") is not None:
        axes[1, 1].set_title(
            f"spend / day — month end {spend['projected']:,.0f}"
            + (f" of {spend['budget']:,.0f}" if spend.get("budget") else ""), fontsize=9)
    fig.suptitle(f"{day:%a %d %b %Y}: last {window} days and +{cfg.daily.forecast_days} days",
                 fontsize=10)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.88, bottom=0.07, hspace=0.35, wspace=0.18)
    return fig


def markdown_image(path: Path, alt: str) -> str:
    """The chart inline in Dagster metadata (a data URI: the UI cannot read the server's disk)."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"![{alt}](data:image/png;base64,{data})"

"""The person's metrics as one value per day, and their statistics (lib/insight) per day.

A metric's day value is its source's aggregate (metrics.per_day). A day without rows is
missing (NaN, never imputed), except for metrics whose empty day means zero (`no_rows: zero`,
the default for `agg: count`: no task done, nothing spent), and those only from the metric's
first row on, so a metric that is five days old has five days, not a year of zeros.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ..config.daily import Daily, Metric
from ..lazy import lazy_module
from .metrics import per_day

if TYPE_CHECKING:
    from ..insight.analyse import Spec
    from .sections import RawRows

pd = lazy_module("pandas")
np = lazy_module("numpy")


def history_first(first: dt.date) -> dt.date:
    """The first day a summary of `first` reads: records reach back HISTORY_DAYS."""
    from ..insight.analyse import HISTORY_DAYS

    return first - dt.timedelta(days=HISTORY_DAYS)


def spec(name: str, metric: Metric) -> Spec:
    from ..insight.analyse import Spec

    goal = metric.target
    return Spec(label=metric.name_label(name), unit=metric.unit, better=metric.better,
                goal_min=None if goal is None else goal.min,
                goal_max=None if goal is None else goal.max)


def specs(settings: Daily) -> dict[str, Spec]:
    """The insight spec (label, unit, goal) of each metric of `daily.metrics`."""
    return {n: spec(n, m) for n, m in settings.metric_defs().items()}


def values(raw: RawRows, metric_defs: dict[str, Metric], first: dt.date, last: dt.date
           ) -> pd.DataFrame:
    """days [first, last] × metrics: each day's value, NaN where it has none."""
    index = pd.Index([first + dt.timedelta(days=i) for i in range((last - first).days + 1)])
    columns = {}
    for name, metric in metric_defs.items():
        frame = raw.frames.get(name)
        series = (per_day(frame, metric.source.agg) if frame is not None
                  else pd.Series(dtype=float))
        column = series.reindex(index).astype(float)
        if metric.zero_when_empty and len(series):
            since = index >= min(series.index)
            column = column.where(~(since & column.isna()), 0.0)
        columns[name] = column.to_numpy()
    return pd.DataFrame(columns, index=index)


def compute(settings: Daily, raw: RawRows, first: dt.date, last: dt.date
            ) -> dict[dt.date, dict[str, dict]]:
    """day → metric → statistics (insight.analyse) for [first, last], from the history in
    `raw` (read from `raw.first`)."""
    from ..insight.analyse import analyse

    defs = settings.metric_defs()
    start = min(raw.first or first, first)
    frame = values(raw, defs, start, last)
    report = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    stats = analyse(frame, {n: spec(n, m) for n, m in defs.items()}, report)
    for name, metric in defs.items():  # what the UI table and the chart show with it
        for day in report:
            stats[day][name] = {"label": metric.name_label(name), "unit": metric.unit,
                                **stats[day][name]}
    return stats

"""Every statistic of every metric for a range of days: what `daily_summary` stores per metric.

`analyse(values, specs, report)` takes each metric's daily values over the report days and the
history before them (HISTORY_DAYS: enough for records; 120 days suffice for the rest) and
returns, per report day and metric, a plain JSON dict (see `metric_day`). Vectorised per metric
(baselines, trend, streaks for all days at once); change points and STL run per day.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import anomalies, baselines, changes, streaks, trend

HISTORY_DAYS = 365  # read before the first report day: records reach back this far
RECORD_MIN_DAYS = 30  # "highest in 12 days" is no news


@dataclass(frozen=True)
class Spec:
    """What the statistics need to know of a metric (from config.daily.Metric)."""

    label: str
    unit: str = ""
    better: str = "neither"
    goal_min: float | None = None
    goal_max: float | None = None

    @property
    def was(self) -> str:
        """The verb a sentence about the metric needs: "journal words were", "sleep was"."""
        last = self.label.split()[-1].lower() if self.label.split() else ""
        plural = last.endswith("s") and not last.endswith(("ss", "us", "is"))
        return "were" if plural else "was"

    @property
    def has_goal(self) -> bool:
        return self.goal_min is not None or self.goal_max is not None


def num(x, digits: int = 3) -> float | None:
    """A float for JSON: rounded, None for NaN."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else round(x, digits)


def analyse(values: pd.DataFrame, specs: dict[str, Spec], report: list[dt.date]
            ) -> dict[dt.date, dict[str, dict]]:
    """day → metric → statistics. `values`: index = consecutive days (history + report days),
    one float column per metric, NaN where a day has no value."""
    days = list(values.index)
    where = {d: i for i, d in enumerate(days)}
    idx = [where[d] for d in report]
    out: dict[dt.date, dict[str, dict]] = {d: {} for d in report}
    for metric, spec in specs.items():
        y = values[metric].to_numpy(dtype=float) if metric in values else np.full(len(days),
                                                                                  np.nan)
        for d, stats in zip(report, analyse_metric(y, days, spec, idx), strict=True):
            out[d][metric] = stats
    return out


def analyse_metric(y: np.ndarray, days: list[dt.date], spec: Spec, idx: list[int]
                   ) -> list[dict]:
    base = baselines.baselines(y)
    mk = trend.mann_kendall(y)
    high, low, history = streaks.records(y)
    met = streaks.goal_met(y, spec.goal_min, spec.goal_max) if spec.has_goal else None
    run = streaks.streaks(met) if met is not None else None
    scale = base["scale_60"]
    with np.errstate(divide="ignore", invalid="ignore"):
        weekday_z = np.where(scale > 0, (y - base["weekday_median"]) / scale, np.nan)
    candidate = np.fmax(np.abs(base["z"]), np.abs(weekday_z))  # NaN only when both are
    noise, centre = changes.noise_levels(y), changes.centres(y)
    detector = changes.Detector()
    out = []
    for i in idx:
        value = y[i]
        calibrating = bool(base["calibrating"][i])
        stats: dict = {
            "value": num(value),
            "valid_days_60": int(base["valid_60"][i]),
            "calibrating": calibrating,
            "median_60": num(base["median_60"][i]),
            "weekday_median": num(base["weekday_median"][i]),
            "mean_14": num(base["mean_14"][i]),
            "mean_60": num(base["mean_60"][i]),
            "spread_60": num(scale[i]),
            "z": None if calibrating else num(base["z"][i], 2),
            "goal": None, "record": None, "trend": None, "change": None, "anomaly": None,
        }
        if met is not None:
            stats["goal"] = {"met": None if np.isnan(met[i]) else bool(met[i]),
                             "streak": int(run[i]),
                             "streak_before": int(run[i - 1]) if i else 0}
        if not np.isnan(value) and not calibrating:
            stats["record"] = _record(high[i], low[i], history[i])
        if not np.isnan(mk["p"][i]):
            stats["trend"] = {"direction": trend.direction(mk["z"][i], mk["p"][i]),
                              "p": num(mk["p"][i], 4), "tau": num(mk["tau"][i]),
                              "slope_per_day": num(mk["slope"][i], 4),
                              "days": trend.TREND_DAYS, "values": int(mk["n"][i])}
        change = detector.last_change(y, i, noise[i], centre[i])
        if change is not None:
            stats["change"] = {"day": days[change["index"]].isoformat(),
                               "days_ago": i - change["index"],
                               "before": num(change["before"]), "after": num(change["after"]),
                               "noise": num(change["sigma"])}
        if not calibrating and candidate[i] >= anomalies.CANDIDATE_Z:
            fit = anomalies.residual(y, i)
            if fit is not None and anomalies.is_anomaly(*fit):
                stats["anomaly"] = {"residual": num(fit[0]), "scale": num(fit[1])}
        out.append(stats)
    return out


def _record(high: int, low: int, history: int) -> dict | None:
    """The longer of "highest in N days" and "lowest in N days", if N is news."""
    found = []
    for kind, back in (("highest", high), ("lowest", low)):
        days, whole = (history, True) if back == 0 else (back, False)
        if days >= RECORD_MIN_DAYS:
            found.append({"kind": kind, "days": int(days), "of_history": whole})
    return max(found, key=lambda r: r["days"]) if found else None

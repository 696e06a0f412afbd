"""When a goal is reached on the current trend: a date with a 95% interval, or not at this rate.

The trend is the Theil–Sen line of the window (scipy.stats.theilslopes: the median of pairwise
slopes, robust to a few odd days) with its 95% confidence interval for the slope. The day the
line reaches the goal's nearer bound is the estimate; the interval comes from the two ends of
the slope's interval. When the interval's slow end does not move towards the goal, the latest
date is open ("or never at this rate"); when even the estimate does not, or the date is more
than a year away, it is "not at this rate". A level already within the goal is "reached".
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from scipy import stats

MIN_VALUES, HORIZON_DAYS = 14, 365


def goal_projection(y: np.ndarray, day: dt.date, low: float | None, high: float | None
                    ) -> dict | None:
    """y: the window's daily values, the last one on `day` (NaN where none)."""
    x = np.arange(len(y), dtype=float) - (len(y) - 1)
    ok = ~np.isnan(y)
    if ok.sum() < MIN_VALUES or np.ptp(x[ok]) == 0:
        return None
    slope, level, slow, fast = stats.theilslopes(y[ok], x[ok], alpha=0.95)
    out = {"level": round(float(level), 3), "slope_per_day": round(float(slope), 5),
           "slope_low": round(float(slow), 5), "slope_high": round(float(fast), 5),
           "met_days_14": int(np.sum(_met(y[-14:], low, high))),
           "valid_days_14": int(np.sum(~np.isnan(y[-14:])))}
    if _met(np.array([level]), low, high)[0]:
        return {**out, "status": "reached"}
    target = low if low is not None and level < low else high
    gap = target - level

    def days_at(rate: float) -> float | None:
        return gap / rate if rate and gap / rate > 0 else None

    estimate = days_at(slope)
    if estimate is None or estimate > HORIZON_DAYS:
        return {**out, "status": "not at this rate", "target": target}
    ends = sorted(d for d in (days_at(slow), days_at(fast)) if d is not None)
    earliest = ends[0] if ends else estimate
    latest = ends[-1] if len(ends) == 2 and ends[-1] <= HORIZON_DAYS else None

    def date(days: float) -> str:
        return (day + dt.timedelta(days=math.ceil(days))).isoformat()

    return {**out, "status": "on the way", "target": target, "date": date(estimate),
            "earliest": date(min(earliest, estimate)),
            "latest": date(latest) if latest is not None else None}


def _met(y: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    ok = ~np.isnan(y)
    if low is not None:
        ok &= y >= low
    if high is not None:
        ok &= y <= high
    return ok

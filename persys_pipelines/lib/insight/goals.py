"""When a goal is reached on the current trend: a date with a 95% interval, or not at this rate.

The trend is the Theil–Sen line of the window (the median of pairwise slopes, robust to a few
odd days) with its 95% confidence interval for the slope (Sen 1968, eq. 2.6), as
scipy.stats.theilslopes computes them, for every day's window at once (`theil_sen`: scipy takes
~1.3 ms a window, 2 goals × 1,095 days of a backfill would be 3 s; a test checks every figure
against scipy). The day the
line reaches the goal's nearer bound is the estimate; the interval comes from the two ends of
the slope's interval. When the interval's slow end does not move towards the goal, the latest
date is open ("or never at this rate"); when even the estimate does not, or the date is more
than a year away, it is "not at this rate". A level already within the goal is "reached".
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from scipy import special

from .windows import ending, nanmedian

MIN_VALUES, HORIZON_DAYS = 14, 365
Z_975 = math.sqrt(2) * float(special.erfinv(0.95))  # 1.95996…, norm.ppf(0.975)


def theil_sen(y: np.ndarray, days: int) -> dict[str, np.ndarray]:
    """Per day i, the Theil–Sen line of the `days` days ending with i (x = 0 on day i):
    slope, intercept (the level on day i), the slope's 95% interval, values used."""
    w = ending(y, days)
    x = np.arange(days, dtype=float) - (days - 1)
    j, k = np.triu_indices(days, 1)
    slopes = np.sort((w[:, k] - w[:, j]) / (x[k] - x[j]), axis=1)  # NaN (missing) sort last
    ok = ~np.isnan(w)
    n = ok.sum(axis=1).astype(float)
    nt = (~np.isnan(slopes)).sum(axis=1)
    slope = nanmedian(slopes)
    xs = np.where(ok, x, np.nan)
    intercept = nanmedian(w) - slope * nanmedian(xs)
    ties = (w[:, :, None] == w[:, None, :]).sum(axis=2).astype(float)
    tie_term = np.where(ok, (ties - 1) * (2 * ties + 5), 0.0).sum(axis=1)
    sigma = np.sqrt(np.maximum((n * (n - 1) * (2 * n + 5) - tie_term) / 18, 0))
    upper = np.minimum(np.round((nt + Z_975 * sigma) / 2), nt - 1).astype(int)
    lower = np.maximum(np.round((nt - Z_975 * sigma) / 2) - 1, 0).astype(int)
    rows = np.arange(len(y))
    safe = np.maximum(nt - 1, 0)
    return {"slope": slope, "intercept": intercept, "n": n,
            "low": slopes[rows, np.minimum(lower, safe)],
            "high": slopes[rows, np.minimum(upper, safe)]}


def goal_projections(y: np.ndarray, days: int, report: list[int], dates: list[dt.date],
                     low: float | None, high: float | None) -> list[dict | None]:
    """`goal_projection` of each report index, from one vectorised Theil–Sen pass."""
    line = theil_sen(y, days)
    return [_status(y[max(0, i - days + 1):i + 1], dates[i], low, high,
                    (line["slope"][i], line["intercept"][i], line["low"][i], line["high"][i]))
            if line["n"][i] >= MIN_VALUES else None for i in report]


def goal_projection(y: np.ndarray, day: dt.date, low: float | None, high: float | None
                    ) -> dict | None:
    """y: the window's daily values, the last one on `day` (NaN where none)."""
    dates = [day - dt.timedelta(days=len(y) - 1 - k) for k in range(len(y))]
    (result,) = goal_projections(y, len(y), [len(y) - 1], dates, low, high)
    return result


def _status(y: np.ndarray, day: dt.date, low: float | None, high: float | None,
            line: tuple) -> dict:
    slope, level, slow, fast = (float(v) for v in line)
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

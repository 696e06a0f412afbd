"""Anomalies: days a metric's weekly rhythm and trend do not explain.

An anomaly is a day that (1) is far from the person's usual, |robust z| ≥ 2.5 against the
60-day or the same-weekday median (baselines.py), and (2) stays extreme after a weekly-seasonal
STL decomposition (statsmodels, robust LOESS, period 7) of the 56 days ending with it: its
residual is beyond 3.5 robust standard deviations of the window's other residuals (Iglewicz &
Hoaglin's cut-off for the modified z-score). (1) makes a Sunday with Sunday-low steps no
candidate; (2) makes a day that follows a gradual trend or the weekly pattern no anomaly. STL
runs only on the candidates of (1), a few percent of days, which keeps a three-year backfill
cheap. Missing days inside the window are interpolated for the decomposition only.
"""

from __future__ import annotations

import numpy as np
from statsmodels.tsa import seasonal

STL_DAYS, MIN_VALUES, CANDIDATE_Z, CUT_OFF = 56, 28, 2.5, 3.5


def residual(y: np.ndarray, end: int) -> tuple[float, float] | None:
    """(residual of day `end`, robust sd of the other residuals) from STL over the 56 days
    ending there; None when the window is too sparse or the day has no value."""
    start = end - STL_DAYS + 1
    if start < 0 or np.isnan(y[end]):
        return None
    window = y[start:end + 1].copy()
    ok = ~np.isnan(window)
    if ok.sum() < MIN_VALUES:
        return None
    if not ok.all():
        idx = np.arange(window.size)
        window[~ok] = np.interp(idx[~ok], idx[ok], window[ok])
    fit = seasonal.STL(window, period=7, robust=True).fit(inner_iter=1, outer_iter=2)
    resid = np.asarray(fit.resid)
    others = resid[:-1][ok[:-1]]
    scale = 1.4826 * float(np.median(np.abs(others - np.median(others))))
    return float(resid[-1]), scale


def is_anomaly(resid: float, scale: float) -> bool:
    return scale > 0 and abs(resid) > CUT_OFF * scale

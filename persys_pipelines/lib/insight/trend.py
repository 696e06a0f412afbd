"""The 28-day trend of each day: the Mann–Kendall test with Sen's slope, every window at once.

The formulas are pymannkendall's `original_test` (S, its variance with the tie correction,
the continuity-corrected z, a two-sided normal p) and `sens_slope` (median of the pairwise
slopes over real day distances, missing days skipped), computed for all windows in one numpy
pass: pymannkendall takes ~0.9 ms a window, 15 metrics × 1,095 days of a three-year backfill
would be 14 s of it. A test checks every figure against pymannkendall on random windows.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .windows import ending, nanmedian

TREND_DAYS, MIN_VALUES, ALPHA = 28, 14, 0.05


def mann_kendall(y: np.ndarray, days: int = TREND_DAYS) -> dict[str, np.ndarray]:
    """Per day i, the test over the `days` days ending with i; NaN where fewer than
    MIN_VALUES of them have a value."""
    w = ending(y, days)
    j, k = np.triu_indices(days, 1)  # every pair j < k of the window
    a, b = w[:, j], w[:, k]
    sign = np.sign(b - a)  # NaN where either is missing
    s = np.nansum(sign, axis=1)
    n = (~np.isnan(w)).sum(axis=1).astype(float)
    ties = (w[:, :, None] == w[:, None, :]).sum(axis=2).astype(float)  # t_i: equal values
    tie_term = np.where(np.isnan(w), 0.0, (ties - 1) * (2 * ties + 5)).sum(axis=1)
    var = (n * (n - 1) * (2 * n + 5) - tie_term) / 18
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
        tau = s / (0.5 * n * (n - 1))
    z = np.where(var > 0, z, 0.0)
    p = special.erfc(np.abs(z) / np.sqrt(2))  # 2·(1 − Φ(|z|)), pymannkendall's p
    slope = nanmedian((b - a) / (k - j))
    enough = n >= MIN_VALUES
    nan = np.full(len(y), np.nan)
    return {"s": np.where(enough, s, nan), "z": np.where(enough, z, nan),
            "p": np.where(enough, p, nan), "tau": np.where(enough, tau, nan),
            "slope": np.where(enough, slope, nan), "n": n}


def direction(z: float, p: float, alpha: float = ALPHA) -> str:
    if not p < alpha:
        return "no trend"
    return "increasing" if z > 0 else "decreasing"

"""Weekly correlations between the person's metrics, corrected for testing many pairs at once.

Every pair of metrics is tested twice over the last 364 days: on the same day, and the first
metric's day against the second's next day ("after nights of 7.5 h or more …"). Spearman's rank
correlation (pandas' pairwise-complete Spearman, Cython) with the p-value scipy.stats.spearmanr
gives (Student's t with n − 2 degrees of freedom; a test checks both agree), over the days where
both have a value (a missing day is dropped, never imputed), at least 14 of them. The
Benjamini–Hochberg procedure (scipy.stats.false_discovery_control) runs over every pair tested
that week, and only q < 0.05 is kept: among the correlations we announce, at most 5% are
expected to be noise, where announcing every p < 0.05 among ~400 pairs would be ~20 of noise a
week. A metric is never paired with itself, nor two counts of the same rows (same table, same
filters).

Each kept pair is said in the person's units: the days where the first metric was at or above
its median against the days below, and how the second differed on average (same or next day).
When no day lies below the median (a count that is 0 on most days), the split is at the next
value up ("days with 1 or more"). Correlation, not cause.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

WINDOW_DAYS, MIN_PAIRS, Q_MAX = 364, 14, 0.05


@dataclass(frozen=True)
class Found:
    first: str
    second: str
    lag: int  # 0: same day; 1: the second metric on the next day
    rho: float
    n: int
    p: float
    q: float
    threshold: float  # the first metric's median: days at or above it against the rest
    high_mean: float  # the second metric's mean after/with a high first
    low_mean: float

    def record(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(self).items()}


def spearman_p(rho: np.ndarray, n: np.ndarray) -> np.ndarray:
    """scipy.stats.spearmanr's two-sided p-value: t = ρ·√((n−2)/(1−ρ²)), Student's t, n−2 df."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = rho * np.sqrt((n - 2) / ((1 - rho) * (1 + rho)))
    return np.where(np.abs(rho) >= 1, 0.0, 2 * stats.t.sf(np.abs(t), n - 2))


def find_pairs(values: pd.DataFrame, same_rows: set[frozenset] | None = None
               ) -> tuple[list[Found], int]:
    """values: consecutive days (the window) × metrics, NaN where none. Every pair, same day
    and next day; BH over all of them; (the ones with q < Q_MAX, best first; pairs tested)."""
    metrics = list(values.columns)
    k = len(metrics)
    if k < 2:
        return [], 0
    nxt = values.shift(-1).add_suffix("\0next")  # row d holds day d + 1
    both = pd.concat([values, nxt], axis=1)
    rho = both.corr(method="spearman", min_periods=MIN_PAIRS).to_numpy()
    ok = (~both.isna()).to_numpy(dtype=float)
    n = ok.T @ ok  # paired days of every column pair
    tests = []
    for i in range(k):
        for j in range(k):
            if i == j or frozenset((metrics[i], metrics[j])) in (same_rows or set()):
                continue
            if j > i:  # same day: each unordered pair once
                tests.append((i, j, 0, rho[i, j], n[i, j]))
            tests.append((i, j, 1, rho[i, k + j], n[i, k + j]))
    tests = [t for t in tests if t[4] >= MIN_PAIRS and not math.isnan(t[3])]
    if not tests:
        return [], 0
    r = np.array([t[3] for t in tests])
    m = np.array([t[4] for t in tests], dtype=float)
    p = spearman_p(r, m)
    q = stats.false_discovery_control(p, method="bh")
    found = []
    for (i, j, lag, rho_ij, n_ij), p_ij, q_ij in zip(tests, p, q, strict=True):
        if q_ij < Q_MAX:
            found.append(_describe(values, metrics[i], metrics[j], lag, rho_ij, int(n_ij),
                                   float(p_ij), float(q_ij)))
    return sorted((f for f in found if f is not None), key=lambda f: f.q), len(tests)


def _describe(values: pd.DataFrame, a: str, b: str, lag: int, rho: float, n: int, p: float,
              q: float) -> Found | None:
    x = values[a]
    y = values[b].shift(-lag)
    paired = pd.concat([x, y], axis=1, keys=["x", "y"]).dropna()
    threshold = float(paired["x"].median())
    if not (paired["x"] < threshold).any():
        # the median is also the smallest value (a count that is mostly 0): split at the next
        # value up, so both sides have days and "at <threshold> or more" stays true
        threshold = float(paired["x"][paired["x"] > threshold].min())
    high = paired["y"][paired["x"] >= threshold]
    low = paired["y"][paired["x"] < threshold]
    if not len(high) or not len(low):
        return None  # one value only: nothing to compare (never with a finite rho)
    return Found(a, b, lag, float(rho), n, p, q, threshold, float(high.mean()),
                 float(low.mean()))


def window(last: dt.date) -> tuple[dt.date, dt.date]:
    """The 364 days ending with `last`."""
    return last - dt.timedelta(days=WINDOW_DAYS - 1), last


def sentence(f: Mapping, labels: Mapping[str, tuple[str, str]], say=None, *,
             spoken: bool = False) -> str:
    """"On days with sleep at 7.5 h or more, your mood was 1.1/10 higher on average (63 days,
    q = 0.01; correlation, not cause)." `labels`: metric → (label, unit); `say(value, metric)`
    formats a value (default plain); `spoken`: the evidence in words, for the briefing."""
    say = say or (lambda v, metric: f"{v:,.1f}{labels[metric][1]}"
                  if labels[metric][1].startswith("/") else f"{v:,.1f} {labels[metric][1]}")
    (la, _), (lb, _) = labels[f["first"]], labels[f["second"]]
    diff = f["high_mean"] - f["low_mean"]
    when = "after days" if f["lag"] else "on days"
    verb = " the next day" if f["lag"] else ""
    way = "higher" if diff > 0 else "lower"
    claim = (f"{when} with {la} at {say(f['threshold'], f['first'])} or more, your {lb}{verb} "
             f"was {say(abs(diff), f['second'])} {way} on average")
    if spoken:
        return (f"A pattern over your last year: {claim}, over {f['n']} days. That is a "
                "correlation, not a cause.")
    return (f"{claim[0].upper()}{claim[1:]} ({f['n']} days, {q_words(f['q'])}; correlation, "
            "not cause).")


def q_words(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.2g}"

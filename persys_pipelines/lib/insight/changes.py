"""Change points: where a metric's level shifted, within the 120 days ending each day.

PELT (Killick et al. 2012) from `ruptures`, with the linear kernel (`KernelCPD`, its C
implementation: the cost is the within-segment sum of squares, i.e. a change in mean). The
signal is scaled by a robust noise level first (the MAD of day-to-day differences / √2, which
a level shift hardly moves) and clipped at ±3 (one odd day is an anomaly, not a new level), so
one penalty fits every metric: 3·ln(n) per change, a little stricter than BIC's 2·ln(n)
because daily habits are autocorrelated. Segments are at least 7 days, and a change is kept
only when the two levels (medians) differ by at least the noise level. Missing days are left
out, never filled: a change falls between two days that have values.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import ruptures as rpt

from .windows import ending, nanmedian

CHANGE_DAYS, MIN_SEGMENT, MIN_VALUES = 120, 7, 28
PENALTY_PER_LOG_N, MIN_EFFECT, CLIP = 3.0, 1.0, 3.0


def centres(y: np.ndarray, days: int = CHANGE_DAYS) -> np.ndarray:
    """Per day, the median of the `days` days ending there (all days at once)."""
    return nanmedian(ending(y, days))


def _median(values: np.ndarray) -> float:
    """A short segment's median (statistics.median: numpy's costs 20 µs of overhead a call)."""
    return float(statistics.median(values.tolist()))


def noise_levels(y: np.ndarray, days: int = CHANGE_DAYS) -> np.ndarray:
    """Per day, a robust sd of the noise over the `days` days ending there: 1.4826 × MAD of
    the day-to-day differences / √2 (all days at once)."""
    d = np.concatenate([[np.nan], np.diff(y)])
    w = ending(d, days)
    med = nanmedian(w)
    return 1.4826 * nanmedian(np.abs(w - med[:, None])) / math.sqrt(2)


class Detector:
    """PELT over each day's window; one ruptures object reused across days."""

    def __init__(self) -> None:
        self.algo = rpt.KernelCPD(kernel="linear", min_size=MIN_SEGMENT)

    def last_change(self, y: np.ndarray, end: int, sigma: float, centre: float | None = None,
                    days: int = CHANGE_DAYS) -> dict | None:
        """The latest change in the `days` days ending at index `end`: {index (first day of
        the new level), before, after (segment medians), sigma}, or None. `centre`: the
        window's median when known (`centres`)."""
        if not sigma > 0:
            return None
        start = max(0, end - days + 1)
        window = y[start:end + 1]
        keep = ~np.isnan(window)
        x = window[keep]
        if x.size < MIN_VALUES:
            return None
        centre = _median(x) if centre is None or np.isnan(centre) else centre
        signal = np.clip((x - centre) / sigma, -CLIP, CLIP)
        breaks = self.algo.fit(signal).predict(pen=PENALTY_PER_LOG_N * math.log(x.size))[:-1]
        if not breaks:
            return None
        positions = np.flatnonzero(keep) + start  # index in y of each kept value
        bounds = [0, *breaks, x.size]
        for i in range(len(bounds) - 2, 0, -1):  # the latest change that is big enough
            before = _median(x[bounds[i - 1]:bounds[i]])
            after = _median(x[bounds[i]:bounds[i + 1]])
            if abs(after - before) >= MIN_EFFECT * sigma:
                return {"index": int(positions[bounds[i]]), "before": before, "after": after,
                        "sigma": sigma}
        return None

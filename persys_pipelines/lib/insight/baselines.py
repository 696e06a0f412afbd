"""A metric's own usual, per day, from the days before it (never the day itself).

- `median_60`: median of the previous 60 days with a value; `weekday_median`: the same weekday
  in the previous 8 weeks; `mean_14` against `mean_60`: the last two weeks against two months.
- robust z = (value − median_60) / (1.4826 × MAD): the median absolute deviation scaled to a
  standard deviation for normal data, so one odd day does not widen the band the way a
  standard deviation would. When more than half the days sit on one value (MAD 0: counts,
  scores), the mean absolute deviation × 1.2533 is used (Iglewicz & Hoaglin's fallback); a
  metric that never varied has no z.
- `calibrating` until the previous 60 days hold 14 days with a value: before that nothing is
  claimed about the day being usual or not (Oura's two weeks; a missing day is not a value).
"""

from __future__ import annotations

import numpy as np

from .windows import before, nanmean, nanmedian, quietly, same_weekday_before, valid

BASELINE_DAYS, RECENT_DAYS, WEEKS = 60, 14, 8
CALIBRATION_DAYS = 14
MAD_TO_SD, MEAN_AD_TO_SD = 1.4826, 1.2533


def baselines(y: np.ndarray) -> dict[str, np.ndarray]:
    """Every baseline of every day of `y` (consecutive days, NaN where none), as arrays."""
    w60 = before(y, BASELINE_DAYS)
    median = nanmedian(w60)
    deviation = np.abs(w60 - median[:, None])
    mad = nanmedian(deviation) * MAD_TO_SD
    mean_ad = quietly(np.nanmean, deviation, axis=1) * MEAN_AD_TO_SD
    scale = np.where(mad > 0, mad, mean_ad)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(scale > 0, (y - median) / scale, np.nan)
    n_valid = valid(w60)
    return {
        "median_60": median,
        "scale_60": scale,  # the robust standard deviation behind z (the chart's band)
        "weekday_median": nanmedian(same_weekday_before(y, WEEKS)),
        "mean_14": nanmean(before(y, RECENT_DAYS)),
        "mean_60": nanmean(w60),
        "valid_60": n_valid,
        "calibrating": n_valid < CALIBRATION_DAYS,
        "z": z,
    }

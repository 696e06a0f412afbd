"""Goal streaks and records of a metric, per day.

- streak: consecutive days, ending with this one, that met the goal; a day without a value
  ends a streak (nothing recorded is not a goal met).
- record: the day's value is the highest (lowest) since `days` days: the previous day with a
  value at least as high (low) lies that far back. With none in the history read, the value is
  the highest of all `days` days of it (`of_history`).
"""

from __future__ import annotations

import numpy as np


def goal_met(y: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    """1.0 met, 0.0 missed, NaN no value."""
    met = np.ones(len(y), dtype=bool)
    if low is not None:
        met &= y >= low
    if high is not None:
        met &= y <= high
    return np.where(np.isnan(y), np.nan, met.astype(float))


def streaks(met: np.ndarray) -> np.ndarray:
    """Length of the run of met days ending at each day (0 on a missed or empty day)."""
    hit = met == 1.0
    position = np.arange(1, len(met) + 1)
    last_miss = np.maximum.accumulate(np.where(hit, 0, position)) if len(met) else position
    return np.where(hit, position - last_miss, 0)


def records(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(highest_for, lowest_for, history): per day, how many days back the previous value at
    least as high (low) is (0: none before; then see `history`, days since the first value)."""
    n = len(y)
    high, low = np.zeros(n, dtype=int), np.zeros(n, dtype=int)
    first = np.argmax(~np.isnan(y)) if n and (~np.isnan(y)).any() else n
    history = np.maximum(0, np.arange(n) - first)
    for out, sign in ((high, 1.0), (low, -1.0)):
        stack: list[int] = []  # indices with strictly decreasing sign*value
        for i in range(n):
            v = y[i]
            if np.isnan(v):
                continue
            while stack and sign * y[stack[-1]] < sign * v:
                stack.pop()
            out[i] = i - stack[-1] if stack else 0
            stack.append(i)
    return high, low, history

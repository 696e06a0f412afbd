"""Trailing windows of a day series, as one 2-D array: every day's window at once (vectorised:
a three-year backfill computes a statistic for 1,095 days in one numpy call, not 1,095)."""

from __future__ import annotations

import warnings

import numpy as np


def before(y: np.ndarray, n: int) -> np.ndarray:
    """Row i: the n days before day i (not day i itself), NaN before the series starts."""
    padded = np.concatenate([np.full(n, np.nan), y])
    return np.lib.stride_tricks.sliding_window_view(padded, n)[: len(y)]


def ending(y: np.ndarray, n: int) -> np.ndarray:
    """Row i: the n days ending with day i (day i last)."""
    padded = np.concatenate([np.full(n - 1, np.nan), y])
    return np.lib.stride_tricks.sliding_window_view(padded, n)


def same_weekday_before(y: np.ndarray, weeks: int) -> np.ndarray:
    """Row i: day i-7, i-14, ... i-7·weeks (the same weekday in the previous weeks)."""
    padded = np.concatenate([np.full(7 * weeks, np.nan), y])
    return np.stack([padded[7 * weeks - 7 * k: 7 * weeks - 7 * k + len(y)]
                     for k in range(1, weeks + 1)], axis=1)


def quietly(fn, *args, **kwargs):
    """numpy's nan-functions on all-NaN rows return NaN and warn; NaN is the answer we want."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


def nanmedian(w: np.ndarray) -> np.ndarray:
    """Each row's median of its values that are not NaN (NaN for a row without any): one sort
    of the whole array; numpy's nanmedian goes row by row once rows differ in NaNs."""
    s = np.sort(w, axis=1)  # NaN sorts last
    count = (~np.isnan(w)).sum(axis=1)
    rows = np.arange(len(w))
    low, high = np.maximum((count - 1) // 2, 0), np.maximum(count // 2, 0)
    with np.errstate(invalid="ignore"):
        middle = (s[rows, low] + s[rows, np.minimum(high, w.shape[1] - 1)]) / 2
    return np.where(count > 0, middle, np.nan)


def nanmean(w: np.ndarray) -> np.ndarray:
    return quietly(np.nanmean, w, axis=1)


def valid(w: np.ndarray) -> np.ndarray:
    return (~np.isnan(w)).sum(axis=1)

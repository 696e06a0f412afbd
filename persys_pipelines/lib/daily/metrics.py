"""The rows behind each metric of the summary, read through `daily.sources` (config.sources).

One read per metric for the whole day range, through the cross-tier reader (core, main, the
archive), so a day that already moved is summarised the same as one still in core. A metric's
day is its source's `day_column` as a calendar day in the configured zone. When that column is
not the table's lifecycle day column (tasks created vs completed), rows are looked up from the
first day on by the lifecycle day: right whenever the lifecycle day never comes before the
source's day (a task is completed after it is created).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from ..config import TablePolicy
from ..config.sources import Source
from ..lazy import lazy_module
from ..tiering import reader
from ..tiering.reader import TieredReader

np = lazy_module("numpy")
pd = lazy_module("pandas")

VALUE, BY, ORDER = "_value", "_by", "_order"  # columns of a metric frame (besides `day`)


def policy_of(tables: Mapping[str, TablePolicy], source: Source) -> TablePolicy:
    """The table's lifecycle policy (`tables`: persys.yaml's); a table only the summary reads
    lives in core, by its day."""
    try:
        return reader.policy_for(tables, source.table)
    except reader.ReaderError:
        return TablePolicy(day_column=source.day_column, core_days=0)


def read_metric(tiers: TieredReader, source: Source, first: dt.date, last: dt.date,
                srcs=None) -> pd.DataFrame:
    """Rows of the source on days [first, last]: `day`, `_value` (float, NaN when null),
    `_order` (the raw day column, for `last`) and `_by` when the source has `by`."""
    policy = policy_of(tiers.tables, source)
    same_day = source.day_column == policy.day_column
    value = source.value or "1"
    rows = reader.read(
        tiers, source.table, first, last if same_day else None, columns=source.columns(),
        day_columns=None if same_day else {"_src_day": source.day_column},
        include_undated=bool(policy.only_when) or not same_day, from_sources=srcs,
        filters=source.where, expressions={VALUE: value}, policy=policy,
    )
    day = rows[reader.DAY if same_day else "_src_day"]
    out = pd.DataFrame({
        "day": day.to_numpy(),
        VALUE: pd.to_numeric(rows[VALUE], errors="coerce").astype(float).to_numpy(),
        ORDER: rows[source.day_column].to_numpy(),
    })
    if source.by:
        out[BY] = rows[source.by].to_numpy()
    keep = out["day"].notna()
    keep &= out["day"].map(lambda d: d is not None and first <= d <= last).astype(bool)
    return out[keep].reset_index(drop=True)


def per_day(frame: pd.DataFrame, agg: str) -> pd.Series:
    """day → the metric's value that day (days without rows are absent)."""
    return _aggregate(frame, ["day"], agg)


def per_day_by(frame: pd.DataFrame, agg: str) -> pd.Series:
    """(day, by) → value; an array `by` column counts each element (tags)."""
    if frame.empty or BY not in frame:
        return pd.Series(dtype=float)
    if frame[BY].map(lambda v: isinstance(v, list | tuple | np.ndarray)).any():
        frame = frame.explode(BY)
    frame = frame[frame[BY].notna()]
    return _aggregate(frame.assign(**{BY: frame[BY].astype(str)}), ["day", BY], agg)


def rows_per_day(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby("day").size() if len(frame) else pd.Series(dtype=int)


def _aggregate(frame: pd.DataFrame, keys: list[str], agg: str) -> pd.Series:
    if frame.empty:
        return pd.Series(dtype=float)
    if agg == "last":
        frame = frame.sort_values(ORDER, kind="stable")
    grouped = frame.groupby(keys)[VALUE]
    if agg == "count":
        return grouped.count()
    return getattr(grouped, {"mean": "mean", "sum": "sum", "min": "min", "max": "max",
                             "last": "last"}[agg])()

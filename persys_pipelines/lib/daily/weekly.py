"""Weekly correlations of the person's metrics, from the stored summaries (insight/correlations).

One row per week in `weekly_correlations` (day = the week's last day): the pairs tested, the
ones that passed (q < 0.05) with their sentence, and which are new since the week before.
Written like the daily tables: idempotent, one tier per day (summary.store_days).
"""

from __future__ import annotations

import datetime as dt
import json

from ..config.daily import Daily
from ..tiering import reader
from ..tiering.reader import TieredReader
from .context import DailyHandles
from .metric_stats import specs
from .summary import store_days
from .summary_text import written

COLUMNS = ("day", "first_day", "metrics", "pairs_tested", "found", "text")


def same_rows(settings: Daily) -> set[frozenset]:
    """Pairs that count the same rows (same table and filters, both counts): not a finding."""
    defs = settings.metric_defs()
    counts = [(n, m.source) for n, m in defs.items() if m.source.agg == "count"]
    return {frozenset((a, b)) for i, (a, sa) in enumerate(counts) for b, sb in counts[i + 1:]
            if (sa.table, sa.where, sa.day_column) == (sb.table, sb.where, sb.day_column)}


def values(daily: DailyHandles, first: dt.date, last: dt.date):
    """Stored summaries' metric values, days [first, last] × the configured metrics."""
    import numpy as np
    import pandas as pd

    stored = reader.read(daily.reader, "daily_summaries", first, last, columns=("metrics",))
    index = pd.Index([first + dt.timedelta(days=i) for i in range((last - first).days + 1)])
    names = list(daily.settings.metric_defs())
    frame = pd.DataFrame(np.nan, index=index, columns=names)
    for day, metrics in zip(stored["day"], stored["metrics"], strict=True):
        for name, detail in (metrics or {}).items():
            if name in frame.columns and (detail or {}).get("value") is not None:
                frame.at[day, name] = float(detail["value"])
    return frame


def compute(daily: DailyHandles, last: dt.date, previous: list[dict] | None = None) -> tuple:
    """The row of the week ending `last` (COLUMNS), each finding marked new unless the week
    before found the same pair and lag."""
    from ..insight import correlations

    first, last = correlations.window(last)
    frame = values(daily, first, last)
    found, tested = correlations.find_pairs(frame, same_rows(daily.settings))
    known = {(f["first"], f["second"], f["lag"]) for f in previous or []}
    sp = specs(daily.settings)
    labels = {m: (s.label, s.unit) for m, s in sp.items()}
    records = []
    for f in found:
        record = f.record()
        record["new"] = (f.first, f.second, f.lag) not in known
        record["text"] = correlations.sentence(record, labels,
                                               lambda v, m: written(v, sp[m]))
        records.append(record)
    text = (" ".join(r["text"] for r in records) if records else
            f"No correlation passed the test this week ({tested} pairs tested, q < 0.05).")
    return (last, first, len(frame.columns), tested, json.dumps(records), text)


def latest(tiers: TieredReader, day: dt.date) -> dict | None:
    """The week stored last on or before `day` (within a week), as a dict, else None."""
    rows = reader.read(tiers, "weekly_correlations", day - dt.timedelta(days=6), day)
    if not len(rows):
        return None
    row = rows.sort_values("day").iloc[-1]
    return {c: row[c] for c in COLUMNS}


def store(daily: DailyHandles, first: dt.date, last: dt.date, rows: list[tuple]
          ) -> dict[str, int]:
    return store_days(daily, "weekly_correlations", COLUMNS, first, last, rows)

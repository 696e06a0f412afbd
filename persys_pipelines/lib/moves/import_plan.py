"""Where an imported row goes, and the batches an import is written in: what the file's
reader needs (lib/imports/spool.py), without the engine (the reader of a big export's second
part is a process of its own, lib/imports/parts.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..calendar import cutoff, month_span
from ..config import TablePolicy

__all__ = ["ARCHIVE", "CORE", "MAIN", "Batch", "tier_of"]

CORE, MAIN, ARCHIVE = "core", "main", "archive"


def tier_of(policy: TablePolicy, today: dt.date, day: dt.date) -> str | None:
    """The tier a row of `day` belongs in as of `today` (None: past delete_days)."""
    if policy.delete_days is not None and day < today - dt.timedelta(days=policy.delete_days):
        return None
    if day >= today - dt.timedelta(days=policy.core_days):
        return CORE
    cut = cutoff(today, policy.main_days)
    if cut is not None and month_span(day)[1] < cut:
        return ARCHIVE
    return MAIN


@dataclass(frozen=True)
class Batch:
    """One table's rows of one month bound for one tier: `path` holds COPY text rows in
    `columns` order (the key column first)."""

    table: str
    tier: str
    month: dt.date
    columns: tuple[str, ...]
    path: Path
    rows: int
    # the natural key holds the row's day (an instant, a date): a row with this key can only
    # be on these days, so the table is searched for it there only, not whole
    key_has_day: bool = False

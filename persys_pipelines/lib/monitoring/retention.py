"""Retention, said ahead: which archived days the purge deletes within the notice period, and
what remains of purged days (their digests). `persys status` shows both; the `purge_notice`
sensor tells the person once per file, with how to keep it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from ..archive.manifest import ManifestUnreadable, read_manifest
from ..archive.pins import Pin, holds
from ..archive.stores import ArchiveStores, StoreError
from ..calendar import cutoff
from ..config import TablePolicy
from ..pg.catalog import table_columns, table_exists
from .notify import Notifier

NOTICE_DAYS = 14  # deletions are announced this many days before the purge may run


@dataclass(frozen=True)
class Upcoming:
    table: str
    key: str
    first_day: str
    last_day: str
    rows: int
    on: dt.date  # the first day the purge may delete it


def upcoming(stores: ArchiveStores, policies: dict[str, TablePolicy], as_of: dt.date,
             days: int = NOTICE_DAYS, pinned: list[Pin] | None = None) -> list[Upcoming]:
    """Archive files the purge may delete between `as_of` and `as_of + days` (not those a
    pin still holds then: `pinned`, main's active pins)."""
    out = []
    for table, policy in policies.items():
        later = cutoff(as_of + dt.timedelta(days=days), policy.delete_days)
        if later is None:
            continue
        for store in stores.all:
            try:
                entries = read_manifest(store, table).committed()
            except (StoreError, ManifestUnreadable):
                continue
            for e in entries:
                if e.max_day < later.isoformat():
                    on = dt.date.fromisoformat(e.max_day) + dt.timedelta(
                        days=policy.delete_days + 1)
                    if holds(pinned or [], table, e.min_day, e.max_day, on):
                        continue
                    out.append(Upcoming(table, e.key, e.min_day, e.max_day, e.rows, on))
    return sorted(out, key=lambda u: (u.on, u.table, u.key))


def announce(alerts: Notifier, soon: list[Upcoming]) -> int:
    """One notification per file (the outbox keys it), with how to keep the days."""
    for u in soon:
        alerts.notify(
            f"purge-soon:{u.key}",
            f"🗑️ persys: {u.table} {u.first_day}…{u.last_day} will be deleted from {u.on}",
            f"{u.rows:,} rows of {u.table} reach delete_days; what remains is their digest "
            f"(counts, sums, extremes). To keep them in the archive: `persys archive pin "
            f"{u.table} --from {u.first_day} --to {u.last_day}` (or raise "
            f"tables.{u.table}.delete_days in persys.yaml).")
    return len(soon)


def digest_summary(conn: psycopg.Connection) -> dict[str, dict]:
    """Table → days digested, first/last day, and the digests' bytes in main."""
    if not table_exists(conn, "persys.digests"):
        return {}
    if "day" in table_columns(conn, "persys.digests"):  # the first version: a row per day
        rows = conn.execute(
            "select table_name, count(distinct day), min(day), max(day), "
            "sum(pg_column_size(digest)) from persys.digests group by 1 order by 1").fetchall()
    else:
        rows = conn.execute(
            "select table_name, count(distinct d), min(first_day), max(last_day), "
            "(select sum(pg_column_size(days)) from persys.digests s "
            " where s.table_name = x.table_name) "
            "from persys.digests x, jsonb_object_keys(days) d group by 1 order by 1").fetchall()
    return {t: {"days": n, "first_day": lo.isoformat(), "last_day": hi.isoformat(),
                "bytes": int(b)} for t, n, lo, hi, b in rows}

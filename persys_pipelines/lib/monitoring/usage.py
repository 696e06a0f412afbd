"""Tier usage over time: measured as the provider bills it, kept in main (`persys.usage`).

Two histories: `persys.usage` holds a sample per tier every quarter-hour (the quota sensor, each
report), kept `SAMPLE_DAYS`: the growth rate, the forecast and the report's chart are drawn
from it. `persys.usage_daily` holds one row per tier and UTC day, its largest size (Supabase
judges its fair-use quota on the billing cycle's average of daily sizes, and does not say at
what hour it measures: the peak is the safe reading), kept for good: ten years are 7,300 rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

from ..pg.catalog import table_exists
from ..pg.private import ensure_persys_schema, protect
from ..pg.schema import create_monitoring_tables
from ..pg.tiers import PgTier

SAMPLE_DAYS = 62  # quarter-hourly samples older than this are dropped (their days stay)
DAILY_DDL = """
create table if not exists persys.usage_daily (
    tier text not null,
    day date not null,                 -- UTC, as Supabase bills
    max_bytes bigint not null,
    quota_bytes bigint,
    primary key (tier, day)
);
"""


@dataclass(frozen=True)
class Usage:
    tier: str
    bytes: int
    quota_bytes: int | None
    at: dt.datetime

    @property
    def pct(self) -> float | None:
        return 100.0 * self.bytes / self.quota_bytes if self.quota_bytes else None

    def as_json(self) -> dict:
        return {"tier": self.tier, "bytes": self.bytes, "quota_bytes": self.quota_bytes,
                "pct": None if self.pct is None else round(self.pct, 2),
                "at": self.at.isoformat()}


def measure(tier: PgTier, at: dt.datetime | None = None) -> Usage:
    """What the provider bills for this tier right now (see PgTier.size_bytes)."""
    return Usage(tier.name, tier.size_bytes(), tier.quota_bytes,
                 at or dt.datetime.now(dt.UTC))


def measure_all(tiers: Iterable[PgTier], at: dt.datetime | None = None) -> list[Usage]:
    """One sample of each tier (core and main), all at the same time."""
    at = at or dt.datetime.now(dt.UTC)
    return [measure(tier, at) for tier in tiers]


def record(conn: psycopg.Connection, samples: list[Usage],
           min_gap: dt.timedelta = dt.timedelta(0)) -> None:
    """Append samples to the history (a repeated (tier, at) is ignored).

    `min_gap`: skip a tier's sample when its last one is more recent than that, so a sensor
    ticking every minute keeps a few rows an hour, not half a million a year."""
    create_monitoring_tables(conn)
    new_day = record_daily(conn, samples)
    with conn.cursor() as cur:
        cur.executemany(
            "insert into persys.usage (at, tier, bytes, quota_bytes) "
            "select %(at)s, %(tier)s, %(bytes)s, %(quota)s where not exists ("
            "  select 1 from persys.usage where tier = %(tier)s and at > %(since)s) "
            "on conflict do nothing",
            [{"at": s.at, "tier": s.tier, "bytes": s.bytes, "quota": s.quota_bytes,
              "since": s.at - min_gap if min_gap else s.at + dt.timedelta(days=36500)}
             for s in samples],
        )
    if new_day:  # once a day: the quarter-hourly samples past SAMPLE_DAYS go (their days stay)
        oldest = max(s.at for s in samples) - dt.timedelta(days=SAMPLE_DAYS)
        conn.execute("delete from persys.usage where at < %s", (oldest,))
    conn.commit()


@dataclass(frozen=True)
class DailySize:
    tier: str
    day: dt.date  # UTC
    bytes: int  # the day's largest measured size


def ensure_daily_table(conn: psycopg.Connection) -> None:
    """Create the daily history; on creation, fill it from the samples kept so far."""
    if table_exists(conn, "persys.usage_daily"):
        return
    ensure_persys_schema(conn)
    conn.execute(DAILY_DDL)
    protect(conn, "persys.usage_daily")
    if table_exists(conn, "persys.usage"):
        conn.execute(
            "insert into persys.usage_daily (tier, day, max_bytes, quota_bytes) "
            "select tier, (at at time zone 'UTC')::date, max(bytes), max(quota_bytes) "
            "from persys.usage group by 1, 2 on conflict do nothing")


def record_daily(conn: psycopg.Connection, samples: list[Usage]) -> bool:
    """Fold samples into their tier's UTC day (the largest size wins; a smaller one writes
    nothing, so a sensor ticking every minute rewrites the row only when the tier grew); True
    when a sample opened a new day (the caller's cue for once-a-day upkeep)."""
    ensure_daily_table(conn)
    opened = False
    for s in samples:
        row = conn.execute(
            "insert into persys.usage_daily as d (tier, day, max_bytes, quota_bytes)"
            " values (%(tier)s, (%(at)s at time zone 'UTC')::date, %(b)s, %(q)s) "
            "on conflict (tier, day) do update set max_bytes = excluded.max_bytes, "
            "quota_bytes = excluded.quota_bytes where excluded.max_bytes > d.max_bytes "
            "returning (xmax = 0)",
            {"tier": s.tier, "at": s.at, "b": s.bytes, "q": s.quota_bytes}).fetchone()
        opened = opened or bool(row and row[0])
    return opened


def daily_history(conn: psycopg.Connection, tier: str, since: dt.date | None = None
                  ) -> list[DailySize]:
    """One size per UTC day, oldest first (days without a sample are absent)."""
    if not table_exists(conn, "persys.usage_daily"):
        return []
    rows = conn.execute(
        "select day, max_bytes from persys.usage_daily where tier = %s and day >= %s "
        "order by day", (tier, since or dt.date(1970, 1, 1))).fetchall()
    return [DailySize(tier, d, int(b)) for d, b in rows]


def history(conn: psycopg.Connection, tier: str, since: dt.datetime | None = None) -> list[Usage]:
    """Samples of one tier, oldest first."""
    if not table_exists(conn, "persys.usage"):
        return []
    rows = conn.execute(
        "select at, bytes, quota_bytes from persys.usage where tier = %s and at >= %s "
        "order by at",
        (tier, since or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)),
    ).fetchall()
    return [Usage(tier, int(b), None if q is None else int(q), at) for at, b, q in rows]

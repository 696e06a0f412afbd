"""Tier usage over time: measured as the provider bills it, kept in main's `persys.usage`.

The history is what the forecast and the report's chart are drawn from; the quota sensor adds a
sample every tick, `persys status` reads it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from ..config import Config
from ..pg.catalog import table_exists
from ..pg.schema import create_monitoring_tables
from ..pg.tiers import PgTier, resolve_tier


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


def measure_all(cfg: Config, at: dt.datetime | None = None) -> list[Usage]:
    at = at or dt.datetime.now(dt.UTC)
    return [measure(resolve_tier(cfg, name), at) for name in ("core", "main")]


def record(conn: psycopg.Connection, samples: list[Usage],
           min_gap: dt.timedelta = dt.timedelta(0)) -> None:
    """Append samples to the history (a repeated (tier, at) is ignored).

    `min_gap`: skip a tier's sample when its last one is more recent than that, so a sensor
    ticking every minute keeps a few rows an hour, not half a million a year."""
    create_monitoring_tables(conn)
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
    conn.commit()


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

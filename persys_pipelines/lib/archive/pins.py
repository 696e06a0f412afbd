"""Pins: days stay in the tier they are in until the person lets them go.

A restore brings days back because someone wants them in main; the next archive run would
otherwise see them as due (older than `main_days`) and take them straight back. A pin is a row
of `persys.pins` in main — table, first/last day, `until` — written in the same transaction as
the restored rows, so rows never come back unpinned. While `as_of < until` the archive leaves
the pinned days alone (`unpinned_condition` in the due-month query and in what a month's run
exports and deletes), and the purge leaves every archive file holding one of them (`holds`):
`persys archive pin` keeps days past `delete_days` in the archive without restoring them.
From `until` on, or after `persys archive unpin`, they are due again. Restores and `persys
archive pin` write pins, only `unpin` removes them (expired pins stay as history).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..errors import ArchiveError
from ..pg.catalog import table_exists
from ..pg.schema import create_pins
from ..pg.tiers import PgTier

DEFAULT_PIN_DAYS = 30  # `persys archive restore` without --pin-days (README, command help)
KEEP_DAYS = 3650  # `persys archive pin` without --days: kept for ten years
MAX_DAYS = 36_500  # a pin of more than a hundred years is a typing mistake


@dataclass(frozen=True)
class Pin:
    table: str
    first_day: dt.date
    last_day: dt.date
    until: dt.date
    created_at: dt.datetime

    def as_json(self) -> dict[str, str]:
        return {"table": self.table, "first_day": self.first_day.isoformat(),
                "last_day": self.last_day.isoformat(), "until": self.until.isoformat(),
                "created_at": self.created_at.isoformat(timespec="seconds")}


def pin_until(pin_days: int, today: dt.date) -> dt.date | None:
    """The `until` of a restore's pin (None: `--pin-days 0`, no pin); a negative count is a
    mistake the person must hear about, not a pin that is already over."""
    if pin_days < 0 or pin_days > MAX_DAYS:
        raise ArchiveError(f"--pin-days {pin_days}: give 0 (do not pin) or a number of days "
                           f"up to {MAX_DAYS}")
    return today + dt.timedelta(days=pin_days) if pin_days else None


def keep_until(days: int, today: dt.date) -> dt.date:
    """The `until` of `persys archive pin --days N`."""
    if not 0 < days <= MAX_DAYS:
        raise ArchiveError(f"--days {days}: give a number of days from 1 to {MAX_DAYS}")
    return today + dt.timedelta(days=days)


def pin(conn: psycopg.Connection, table: str, first: dt.date, last: dt.date,
        until: dt.date) -> None:
    """Pin [first, last] in the caller's transaction (the restore's, so the pin commits with
    the rows). Pinning the same days again keeps the later `until`: a pin is never shortened
    by accident, only by `unpin`."""
    create_pins(conn)
    conn.execute(
        """insert into persys.pins (table_name, first_day, last_day, until)
           values (%s, %s, %s, %s)
           on conflict (table_name, first_day, last_day)
           do update set until = greatest(persys.pins.until, excluded.until)""",
        (table, first, last, until))


def keep(tier: PgTier, table: str, first: dt.date, last: dt.date, until: dt.date) -> None:
    """`persys archive pin`: pin [first, last] where the days are now (own transaction)."""
    if first > last:
        raise ArchiveError(f"pin {table}: --from {first} is after --to {last}")
    with tier.connect() as conn:
        pin(conn, table, first, last, until)
        conn.commit()


def holds(pins: list[Pin], table: str, first: str, last: str, on: dt.date) -> bool:
    """Does a pin of `table` still hold on day `on` any day of [first, last] (ISO days, an
    archive file's span)? The file then stays whole."""
    lo, hi = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return any(p.table == table and p.until > on and p.first_day <= hi and p.last_day >= lo
               for p in pins)


def active_pins(conn: psycopg.Connection, as_of: dt.date, table: str | None = None
                ) -> list[Pin]:
    """Pins still holding days in main as of `as_of` (all tables when `table` is None)."""
    if not table_exists(conn, "persys.pins"):
        return []
    rows = conn.execute(
        """select table_name, first_day, last_day, until, created_at from persys.pins
            where until > %s and (%s::text is null or table_name = %s)
            order by table_name, first_day, last_day""", (as_of, table, table)).fetchall()
    return [Pin(*r) for r in rows]


def unpinned_condition(conn: psycopg.Connection, table: str, day: sql.Composable,
                       as_of: dt.date) -> sql.Composable:
    """SQL true for rows (dated by `day`) that no pin holds as of `as_of`. The ranges are
    inlined as literals: a handful of pins, read in the caller's snapshot, so the archive's
    export, checksum and delete all see the same pins."""
    ranges = [sql.SQL("{} between {} and {}").format(day, sql.Literal(p.first_day),
                                                     sql.Literal(p.last_day))
              for p in active_pins(conn, as_of, table)]
    if not ranges:
        return sql.SQL("true")
    return sql.SQL("not ({})").format(sql.SQL(" or ").join(ranges))


def unpin(tier: PgTier, table: str, first: dt.date | None = None,
          last: dt.date | None = None) -> list[Pin]:
    """Release the table's pins (all of them, or only the days in [first, last]); returns the
    pins that changed. A pin reaching past the range keeps its days outside it, so unpinning
    one day of a pinned week leaves the other six pinned."""
    if (first is None) != (last is None):
        raise ArchiveError(f"unpin {table}: give both --from and --to, or neither to release "
                           "every pin of the table")
    if first is not None and last is not None and first > last:
        raise ArchiveError(f"unpin {table}: --from {first} is after --to {last}")
    with tier.connect() as conn:
        if not table_exists(conn, "persys.pins"):
            return []
        lo, hi = first or dt.date.min, last or dt.date.max
        hit = [Pin(*r) for r in conn.execute(
            """delete from persys.pins where table_name = %s and first_day <= %s
                 and last_day >= %s
               returning table_name, first_day, last_day, until, created_at""",
            (table, hi, lo)).fetchall()]
        for p in hit:
            for a, b in _outside(p, lo, hi):
                conn.execute(
                    """insert into persys.pins (table_name, first_day, last_day, until,
                                                created_at)
                       values (%s, %s, %s, %s, %s) on conflict (table_name, first_day, last_day)
                       do update set until = greatest(persys.pins.until, excluded.until)""",
                    (table, a, b, p.until, p.created_at))
        conn.commit()
    return hit


def _outside(p: Pin, lo: dt.date, hi: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The parts of pin `p` before `lo` and after `hi` (what stays pinned)."""
    parts = []
    if p.first_day < lo:
        parts.append((p.first_day, lo - dt.timedelta(days=1)))
    if p.last_day > hi:
        parts.append((hi + dt.timedelta(days=1), p.last_day))
    return parts

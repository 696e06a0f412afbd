"""The move ledger: one `persys.ledger` row (main tier) per move of a table's day range.

A move opens its row as `started` before it touches data and closes it with the outcome
(`moved`, `nothing`, `failed`) and the counts. A process killed mid-move leaves a `started` row;
the next mover of the same table (holding the table's move lock, so no live mover can own it)
marks such rows `interrupted`, which keeps the ledger honest about crashes. Every tier-to-tier
move (core→main, main→archive, purge) writes here through these functions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .catalog import table_exists
from .schema import create_ledger

STARTED = "started"
MOVED = "moved"
NOTHING = "nothing"
FAILED = "failed"
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    table: str
    first_day: dt.date | None
    last_day: dt.date | None
    from_tier: str
    to_tier: str
    rows: int
    bytes: int
    checksum: str | None
    run_id: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str
    detail: dict[str, Any]


def ensure(conn: psycopg.Connection) -> None:
    """Create the ledger when missing (a main tier set up by hand still gets one)."""
    if not table_exists(conn, "persys.ledger"):
        create_ledger(conn)


def open_entry(
    conn: psycopg.Connection,
    *,
    table: str,
    first_day: dt.date | None,
    last_day: dt.date | None,
    from_tier: str,
    to_tier: str,
    run_id: str | None = None,
) -> int:
    """Insert a `started` row and commit it at once; returns its id."""
    with conn.transaction():
        row = conn.execute(
            """insert into persys.ledger (table_name, first_day, last_day, from_tier, to_tier,
                                          run_id, outcome)
               values (%s, %s, %s, %s, %s, %s, %s) returning id""",
            (table, first_day, last_day, from_tier, to_tier, run_id, STARTED),
        ).fetchone()
    return int(row[0])


def close_entry(
    conn: psycopg.Connection,
    entry_id: int,
    *,
    outcome: str,
    rows: int = 0,
    bytes_: int = 0,
    checksum: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    with conn.transaction():
        conn.execute(
            """update persys.ledger
                  set outcome = %s, rows = %s, bytes = %s, checksum = %s, ended_at = now(),
                      detail = detail || %s
                where id = %s""",
            (outcome, rows, bytes_, checksum, Jsonb(detail or {}), entry_id),
        )


def update_detail(conn: psycopg.Connection, entry_id: int, detail: dict[str, Any]) -> None:
    """Merge `detail` into the row inside the caller's transaction (committed with it)."""
    conn.execute("update persys.ledger set detail = detail || %s where id = %s",
                 (Jsonb(detail), entry_id))


def mark_interrupted(conn: psycopg.Connection, table: str, from_tier: str, to_tier: str) -> int:
    """Close `started` rows a killed mover left; call only while holding the move lock."""
    with conn.transaction():
        cur = conn.execute(
            """update persys.ledger set outcome = %s, ended_at = now()
                where table_name = %s and from_tier = %s and to_tier = %s and outcome = %s""",
            (INTERRUPTED, table, from_tier, to_tier, STARTED),
        )
    return cur.rowcount


def entries(
    conn: psycopg.Connection, table: str | None = None, limit: int = 100
) -> list[LedgerEntry]:
    """Newest first; all tables unless `table` is given."""
    if not table_exists(conn, "persys.ledger"):
        return []
    rows = conn.execute(
        """select id, table_name, first_day, last_day, from_tier, to_tier, rows, bytes, checksum,
                  run_id, started_at, ended_at, outcome, detail
             from persys.ledger where %s::text is null or table_name = %s
            order by id desc limit %s""",
        (table, table, limit),
    ).fetchall()
    return [LedgerEntry(*row) for row in rows]

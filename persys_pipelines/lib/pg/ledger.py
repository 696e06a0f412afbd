"""The ledger (`persys.ledger` in main), read side: one row per step of the engine.

Only the engine (lib/moves/engine.py) writes it. Each row names its route, table, day range,
tiers, `state` (`open` → the route's own steps → `done` | `failed` | `interrupted`), rows,
bytes and fingerprint (`<algorithm>:<rows>:<checksum>`); `outcome` (moved / nothing /
failed / interrupted / started) is derived from the state for people and reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .catalog import table_exists

TABLE = "persys.ledger"
FINAL_STATES = ("done", "failed", "interrupted")
_COLUMNS = ("id, route, table_name, first_day, last_day, from_tier, to_tier, state, rows, "
            "bytes, fingerprint, run_id, started_at, ended_at, outcome, detail")


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    route: str
    table: str
    first_day: dt.date | None
    last_day: dt.date | None
    from_tier: str
    to_tier: str
    state: str
    rows: int
    bytes: int
    fingerprint: str | None
    run_id: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str
    detail: dict[str, Any]


def ensure(conn: psycopg.Connection, create: Callable[[psycopg.Connection], None]) -> None:
    """Create the ledger when missing (a main tier set up by hand still gets one)."""
    if not table_exists(conn, TABLE):
        create(conn)


def entries(conn: psycopg.Connection, table: str | None = None, limit: int = 100,
            route: str | None = None) -> list[LedgerEntry]:
    """Newest first; all tables (and routes) unless given."""
    if not table_exists(conn, TABLE):
        return []
    rows = conn.execute(
        f"""select {_COLUMNS} from persys.ledger
             where (%(t)s::text is null or table_name = %(t)s)
               and (%(r)s::text is null or route = %(r)s)
            order by id desc limit %(n)s""",
        {"t": table, "r": route, "n": limit}).fetchall()
    return [LedgerEntry(*row) for row in rows]


def ended_naming(conn: psycopg.Connection, route: str, table: str, field: str
                 ) -> list[LedgerEntry]:
    """Entries of a route and table that a kill or an error ended (`interrupted`, `failed`)
    and whose detail has `field` (what they left behind), oldest first."""
    rows = conn.execute(
        f"""select {_COLUMNS} from persys.ledger
             where route = %s and table_name = %s and state in ('interrupted', 'failed')
               and detail ? %s order by id""", (route, table, field)).fetchall()
    return [LedgerEntry(*row) for row in rows]


def in_states(conn: psycopg.Connection, route: str, table: str,
              states: tuple[str, ...]) -> list[LedgerEntry]:
    """Entries of a route and table in one of `states`, oldest first (served by the ledger's
    partial index of unfinished entries: cost flat in history)."""
    if not states:
        return []
    rows = conn.execute(
        f"""select {_COLUMNS} from persys.ledger
             where route = %s and table_name = %s and state = any(%s)
               and state not in ('done', 'failed', 'interrupted')
             order by id""", (route, table, list(states))).fetchall()
    return [LedgerEntry(*row) for row in rows]


def states_of(conn: psycopg.Connection, ids: list[int]) -> dict[int, str]:
    """Entry id → state, for the ids that exist (an id a killed run never committed is
    missing: what it described never happened)."""
    if not ids or not table_exists(conn, TABLE):
        return {}
    rows = conn.execute("select id, state from persys.ledger where id = any(%s)", (ids,))
    return dict(rows.fetchall())


def done_rows(conn: psycopg.Connection, route: str, match: dict[str, str],
              by: str) -> dict[str, int]:
    """Rows of `route`'s `done` entries whose detail holds `match`, summed by `detail[by]`
    (what every run of an import of one file wrote, by tier)."""
    if not table_exists(conn, TABLE):
        return {}
    rows = conn.execute(
        "select detail->>%s, sum(rows) from persys.ledger where route = %s and state = 'done' "
        "and detail @> %s group by 1", (by, route, Jsonb(match))).fetchall()
    return {str(k): int(n) for k, n in rows}

"""`persys.imports` (main tier; persys's own schema, private): one row per imported file,
keyed by its sha256.

It says what the file held and where it went: rows per type (metric) and tier, rows already
present, repeats within the file, what was skipped and dropped and why, the day range, and
the state: `delivering` (started; a killed import leaves it so, and importing the file again
finishes it), `done`, or `refused` (the file is broken: nothing of it was imported; the
error says why). Its batches are entries of the engine's ledger (`persys.ledger`, route
`import`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from ..pg import ledger
from ..pg.catalog import table_exists
from ..pg.schema import ensure_persys_schema, protect
from ..pg.tiers import PgTier

DELIVERING, DONE, REFUSED = "delivering", "done", "refused"
TABLE = "persys.imports"

DDL = """
create table if not exists persys.imports (
    sha256 text primary key,
    kind text not null,
    name text not null,
    state text not null,
    started_at timestamptz not null default now(),
    ended_at timestamptz,
    run_id text,
    first_day date,
    last_day date,
    rows jsonb not null default '{}',
    detail jsonb not null default '{}'
);
"""


@dataclass(frozen=True)
class ImportRecord:
    sha256: str
    kind: str
    name: str
    state: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    run_id: str | None
    first_day: dt.date | None
    last_day: dt.date | None
    rows: dict[str, Any]
    detail: dict[str, Any]


def ensure(main: PgTier) -> None:
    """Created on the first import (a project that never imports keeps no such table), and
    protected as every table of persys is: row level security on, nothing granted."""
    with main.connect(autocommit=True) as conn:
        if not table_exists(conn, TABLE):
            ensure_persys_schema(conn)
            conn.execute(DDL)
            protect(conn, TABLE)


def save(main: PgTier, *, sha256: str, kind: str, name: str, state: str,
         run_id: str | None = None, first_day: dt.date | None = None,
         last_day: dt.date | None = None, rows: dict | None = None,
         detail: dict | None = None) -> None:
    """Insert or replace the file's record (a file imported again keeps one row)."""
    ensure(main)
    ended = None if state == DELIVERING else dt.datetime.now(dt.UTC)
    with main.connect(autocommit=True) as conn:
        conn.execute(
            """insert into persys.imports as i (sha256, kind, name, state, ended_at, run_id,
                                           first_day, last_day, rows, detail)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               on conflict (sha256) do update set kind = excluded.kind, name = excluded.name,
                   state = excluded.state, ended_at = excluded.ended_at,
                   run_id = excluded.run_id, first_day = excluded.first_day,
                   last_day = excluded.last_day, rows = excluded.rows,
                   detail = excluded.detail,
                   started_at = case when excluded.state = 'delivering' then now()
                                     else i.started_at end""",
            (sha256, kind, name, state, ended, run_id, first_day, last_day,
             Jsonb(rows or {}), Jsonb(detail or {})))


def written(main: PgTier, sha256: str) -> dict[str, int]:
    """Rows every import of the file wrote, by the tier they were bound for (from the
    ledger: exact after a kill, a second import, or two at once)."""
    with main.connect(autocommit=True) as conn:
        return ledger.done_rows(conn, "import", {"sha256": sha256}, "bound_for")


def records(main: PgTier, limit: int = 50) -> list[ImportRecord]:
    """Newest first."""
    with main.connect(autocommit=True) as conn:
        if not table_exists(conn, TABLE):
            return []
        found = conn.execute(
            "select sha256, kind, name, state, started_at, ended_at, run_id, first_day, "
            "last_day, rows, detail from persys.imports order by started_at desc limit %s",
            (limit,)).fetchall()
    return [ImportRecord(*row) for row in found]


def find(main: PgTier, sha256: str) -> ImportRecord | None:
    with main.connect(autocommit=True) as conn:
        if not table_exists(conn, TABLE):
            return None
        row = conn.execute(
            "select sha256, kind, name, state, started_at, ended_at, run_id, first_day, "
            "last_day, rows, detail from persys.imports where sha256 = %s",
            (sha256,)).fetchone()
    return ImportRecord(*row) if row else None


def history(main: PgTier, limit: int = 20) -> list[dict[str, Any]]:
    """Imported files for `persys status`: kind, file, state, days, rows per tier written."""
    out = []
    for r in records(main, limit):
        per_tier: dict[str, int] = {}
        for tiers in (r.rows.get("new") or {}).values():
            for tier, n in tiers.items():
                per_tier[tier] = per_tier.get(tier, 0) + n
        out.append({"sha256": r.sha256, "kind": r.kind, "file": r.name, "state": r.state,
                    "started_at": r.started_at.isoformat(),
                    "first_day": r.first_day.isoformat() if r.first_day else None,
                    "last_day": r.last_day.isoformat() if r.last_day else None,
                    "new": per_tier, "error": r.detail.get("error")})
    return out

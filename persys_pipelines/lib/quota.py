"""The core quota state machine and the emergency cut-off, shared by the sensor and tests.

Lines: `warn_pct` alerts once per crossing; `critical_pct` alerts once and requests one
emergency lifecycle run (run key `emergency-core-<n>`) that moves the oldest core days ahead of
policy until usage is below `warn_pct`. Hysteresis: the warning re-arms only when usage falls
`rearm_margin_pct` below `warn_pct`, the critical line once usage is back under `warn_pct`, so
a tier hovering at a line does not flap.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql

from .config import Config
from .schema import table_exists
from .tables import day_expression, only_when_condition

REARM_MARGIN_PCT = 5.0
RETRY_EMERGENCY_AFTER_S = 3600  # still critical an hour after the request: ask once more


@dataclass
class QuotaState:
    warned: bool = False
    critical: bool = False
    warnings: int = 0  # crossings so far: numbers the alert keys
    criticals: int = 0
    emergency_attempt: int = 0
    emergency_requested_at: float | None = None  # unix seconds

    @classmethod
    def from_cursor(cls, cursor: str | None) -> QuotaState:
        return cls(**json.loads(cursor)) if cursor else cls()

    def to_cursor(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class QuotaActions:
    warn: str | None = None  # alert key when the warning line was crossed
    critical: str | None = None  # alert key when the critical line was crossed
    emergency_run_key: str | None = None
    recovered: bool = False
    notes: list[str] = field(default_factory=list)


def step(state: QuotaState, pct: float, warn_pct: float, critical_pct: float, now: float,
         rearm_margin_pct: float = REARM_MARGIN_PCT) -> tuple[QuotaState, QuotaActions]:
    """One sensor tick: the new state and what to do (alerts, an emergency request)."""
    s = QuotaState(**asdict(state))
    a = QuotaActions()
    if s.warned and pct < warn_pct - rearm_margin_pct:
        s.warned = False
    if s.critical and pct < warn_pct:
        s.critical, s.emergency_requested_at = False, None
        a.recovered = True
    if not s.warned and pct >= warn_pct:
        s.warned, s.warnings = True, s.warnings + 1
        a.warn = f"quota:core:warn:{s.warnings}"
    if not s.critical and pct >= critical_pct:
        s.critical, s.criticals = True, s.criticals + 1
        s.emergency_attempt = 1
        s.emergency_requested_at = now
        a.critical = f"quota:core:critical:{s.criticals}"
        a.emergency_run_key = f"emergency-core-{s.criticals}"
    elif (s.critical and pct >= critical_pct and s.emergency_requested_at is not None
          and now - s.emergency_requested_at >= RETRY_EMERGENCY_AFTER_S):
        s.emergency_attempt += 1
        s.emergency_requested_at = now
        a.emergency_run_key = f"emergency-core-{s.criticals}-{s.emergency_attempt}"
        a.notes.append("still critical an hour after the emergency request; asking again")
    return s, a


def emergency_cutoff(cfg: Config, core: psycopg.Connection, size_bytes: int,
                     target_bytes: int, as_of: dt.date) -> dt.date | None:
    """The first day to keep: moving every core day before it should bring the tier's size
    under `target_bytes`. Oldest days go first across all tables; today always stays.

    Bytes per day are each row's size scaled to its table's share of the disk (indexes,
    TOAST), so the estimate counts what moving those rows and compacting gives back.
    """
    per_day: dict[dt.date, float] = {}
    for table, policy in cfg.tables.items():
        if not table_exists(core, table):
            continue
        day = day_expression(core, table, policy, cfg.timezone)
        rows = core.execute(sql.SQL(
            "select {day} as d, sum(pg_column_size(t.*)) from {t} t "
            "where {day} is not null and {cond} group by d"
        ).format(day=day, t=sql.Identifier(table), cond=only_when_condition(policy))).fetchall()
        total_rows = sum(int(b) for _, b in rows)
        if not total_rows:
            continue
        on_disk = core.execute("select pg_total_relation_size(%s::regclass)",
                               (table,)).fetchone()[0]
        scale = max(1.0, on_disk / total_rows)
        for d, b in rows:
            per_day[d] = per_day.get(d, 0.0) + int(b) * scale
    excess = size_bytes - target_bytes
    if excess <= 0 or not per_day:
        return None
    freed = 0.0
    for d in sorted(per_day):
        if d >= as_of:
            return as_of
        freed += per_day[d]
        if freed >= excess:
            return d + dt.timedelta(days=1)
    return min(as_of, max(per_day) + dt.timedelta(days=1))

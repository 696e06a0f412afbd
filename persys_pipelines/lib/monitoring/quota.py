"""The core quota state machine and the emergency cut-off, shared by the sensor and tests.

Lines: `warn_pct` alerts once per crossing; `critical_pct` alerts once and requests one
emergency lifecycle run (run key `emergency-core-<n>`) that moves the oldest core days ahead of
policy until usage is below `warn_pct` (`emergency_plan` picks the cut-off). Hysteresis: the
warning re-arms only when usage falls `rearm_margin_pct` below `warn_pct`, the critical line
once usage is back under `warn_pct`, so a tier hovering at a line does not flap.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql

from ..config import TablePolicy
from ..pg import partitions as space
from ..pg.catalog import ident, table_exists
from ..pg.tables import day_expression, only_when_condition, placeable

REARM_MARGIN_PCT = 5.0
RETRY_EMERGENCY_AFTER_S = 3600  # still critical an hour after the request: ask once more
# Free this much more than the excess: the run itself adds catalog rows and the month
# partitions it creates ahead (measured: ~0.3 MB on a 16 MB tier), and plain-table estimates
# are approximate.
EMERGENCY_MARGIN = 1.2


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


@dataclass(frozen=True)
class EmergencyPlan:
    """Move every core day before `cutoff`; `first_day` is the oldest such day, `expected_bytes`
    what the move should give back (month partitions dropped, plain tables rewritten)."""

    cutoff: dt.date
    first_day: dt.date
    expected_bytes: int


def emergency_plan(tables: Mapping[str, TablePolicy], timezone: str, core: psycopg.Connection,
                   size_bytes: int, target_bytes: int, as_of: dt.date) -> EmergencyPlan | None:
    """The earliest cut-off whose move brings the tier under `target_bytes` (oldest days first,
    across all tables; today always stays), or None when nothing needs to / can move.

    Only space that really comes back counts: a month partition's bytes once the cut-off passes
    the month's end (the lifecycle drops it when emptied; a half-moved month frees nothing), a
    plain table's rows by their share of its size (the lifecycle rewrites it when room allows).
    """
    freed_at: dict[dt.date, float] = {}  # cut-off → bytes freed once the cut-off passes it
    first: dt.date | None = None
    for table, policy in tables.items():
        if not table_exists(core, table):
            continue
        day = day_expression(core, table, policy, timezone)
        rows = core.execute(sql.SQL(
            "select {day} as d, sum(pg_column_size(t.*)) from {t} t "
            "where {placed} and {day} < {as_of} and {cond} group by d"
        ).format(day=day, t=ident(table), as_of=sql.Literal(as_of), placed=placeable(day),
                 cond=only_when_condition(policy))).fetchall()
        if not rows:
            continue
        oldest = min(d for d, _ in rows)
        first = oldest if first is None else min(first, oldest)
        if space.is_partitioned(core, table):
            if policy.only_when:  # rows failing the condition stay: months never empty
                continue
            for month, name in space.month_partitions(core, table).items():
                end = space.next_month(month)
                if end <= as_of:
                    size = core.execute("select pg_total_relation_size(%s::regclass)",
                                        (name,)).fetchone()[0]
                    freed_at[end] = freed_at.get(end, 0.0) + int(size)
            continue
        total = sum(int(b) for _, b in rows)
        scale = max(1.0, space.relation_bytes(core, table) / total) if total else 1.0
        for d, b in rows:
            end = d + dt.timedelta(days=1)
            freed_at[end] = freed_at.get(end, 0.0) + int(b) * scale
    excess = size_bytes - target_bytes
    if excess <= 0 or first is None:
        return None
    excess *= EMERGENCY_MARGIN
    freed = 0.0
    for cutoff in sorted(freed_at):
        freed += freed_at[cutoff]
        if freed >= excess:
            return EmergencyPlan(cutoff, first, int(freed))
    return EmergencyPlan(as_of, first, int(freed))

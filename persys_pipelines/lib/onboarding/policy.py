"""A lifecycle policy for each table, sized so core stays under its warning line for years.

The forecast is simple arithmetic a person can check: once the lifecycle runs, each managed
table holds about `core_days` days of rows in core (its growth a day × core_days, with room for
indexes and free space), persys's own tables about as much, the tables without a policy keep
what they hold and keep growing, and the rest of the database (Supabase's own schemas) stays as
it is. The longest `core_days` of a short ladder that keeps all of that under 70% of the warning
line, with ten years of growth of the unmanaged tables, is suggested for every table.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..monitoring.units import human_bytes
from .inspect import Project, Table

LADDER = (30, 14, 7, 3, 1)  # core_days tried, longest first: recent weeks stay fast in core
MAIN_DAYS = 365  # a year in main, then the archive
OVERHEAD = 1.3  # indexes, TOAST and free space on top of the rows' own size
HEADROOM = 0.7  # aim at 70% of the warning line: room for a busier year
YEARS = 10
# persys's own output tables, bytes a day in core (measured on the demo: summary, projection
# and briefing rows with their indexes)
OWN_TABLES = {"daily_summaries": 1600, "daily_projections": 1800, "voice_messages": 600}


@dataclass(frozen=True)
class Forecast:
    quota_bytes: int
    warn_pct: float
    now_bytes: int  # what counts against the quota today
    fixed_bytes: int  # what no policy moves (everything but the managed tables)
    level_bytes: int  # core once the lifecycle has run core_days: fixed + managed steady state
    unmanaged_per_day: float  # bytes a day the tables without a policy add
    core_days: int
    years_to_warn: float | None  # None: never at these rates (or beyond YEARS)

    @property
    def warn_bytes(self) -> float:
        return self.quota_bytes * self.warn_pct / 100

    def pct(self, n: float) -> float:
        return 100 * n / self.quota_bytes

    def lines(self) -> list[str]:
        """The forecast in words, for persys.yaml's header and the command's output."""
        out = [f"core holds {human_bytes(self.now_bytes)} today ({self.pct(self.now_bytes):.0f}% "
               f"of {human_bytes(self.quota_bytes)}); with core_days {self.core_days} it levels "
               f"off near {human_bytes(self.level_bytes)} ({self.pct(self.level_bytes):.0f}%) "
               "once the lifecycle has run"]
        if self.years_to_warn is None:
            out.append(f"at today's growth it stays under the {self.warn_pct:g}% warning line "
                       f"for {YEARS}+ years")
        else:
            out.append(f"tables without a policy add {human_bytes(self.unmanaged_per_day)} a "
                       f"day: core reaches the {self.warn_pct:g}% warning line in about "
                       f"{self.years_to_warn:.1f} years; give them a policy to stop that")
        return out


def managed_per_day(tables: list[Table]) -> float:
    return sum(t.rows_per_day * t.bytes_per_row for t in tables) + sum(OWN_TABLES.values())


def suggest(project: Project, managed: list[Table], *, quota_mb: float = 500,
            warn_pct: float = 80, cluster: bool = True) -> Forecast:
    """The core_days for every managed table and the forecast that comes with it."""
    quota = int(quota_mb * 1024 * 1024)
    now = project.cluster_bytes if cluster else project.database_bytes
    names = {t.name for t in managed}
    fixed = now - sum(t.bytes for t in managed)
    unmanaged = [t for t in project.tables if t.name not in names and t.name not in OWN_TABLES]
    grow = sum(t.rows_per_day * t.bytes_per_row for t in unmanaged)
    rate = managed_per_day(managed)
    target = quota * warn_pct / 100 * HEADROOM
    chosen = LADDER[-1]
    for days in LADDER:
        if fixed + rate * days * OVERHEAD + grow * 365 * YEARS <= target:
            chosen = days
            break
    level = int(fixed + rate * chosen * OVERHEAD)
    room = quota * warn_pct / 100 - level
    years = None
    if grow > 0:
        years = max(0.0, room / grow / 365)
        if years > YEARS:
            years = None
    elif room <= 0:
        years = 0.0
    return Forecast(quota, warn_pct, int(now), int(fixed), level, grow, chosen, years)

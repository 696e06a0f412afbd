"""What lib/monitoring reads from persys.yaml, as handles and sections: the watching sensors
(health checks, keepalive, quota guard, rare alerts) and what `persys status`, the report and
the today page measure. Built at the config boundary (persys_pipelines/handles_monitoring.py),
so nothing in lib/monitoring takes the whole config.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ..archive.stores import ArchiveStores, Store
from ..config import Backup, CoreTier, HealthEndpoint, TablePolicy, Tiers
from ..pg.tiers import PgTier


@dataclass(frozen=True)
class SupabaseRest:
    """Core's Supabase REST API (tiers.core.supabase_url and service_key); `probe` is the
    one-row select that raises with the fix (lib/supabase_rest.probe, bound at the boundary)."""

    configured: bool
    probe: Callable[..., str] = field(repr=False)
    url: str | None = None
    key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class HealthContext:
    """The configured endpoints and how to reach what they name: tiers and the archive stores
    are opened on demand (an embedded tier starts its server), as the checks always did."""

    endpoints: tuple[HealthEndpoint, ...]
    rest: SupabaseRest
    tier: Callable[[str], PgTier] = field(repr=False)
    stores: Callable[[], ArchiveStores] = field(repr=False)  # unchecked: the check probes


@dataclass(frozen=True)
class Watch:
    """What the quota guard and the keepalive need: core's section (quota lines, keepalive
    days, dsn), the table policies, the zone, the forecast alert horizon, the health context."""

    core: CoreTier
    tables: Mapping[str, TablePolicy]
    timezone: str
    forecast_alert_days: int
    health: HealthContext

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def today(self, now: dt.datetime) -> dt.date:
        return now.astimezone(self.zone).date()


@dataclass(frozen=True)
class StatusContext:
    """What `persys status`, the Markdown report and the today page measure and read: core and
    main, the archive stores (opened unchecked), the backup store (opened when asked: its
    error is shown, not raised) and the persys.yaml sections their lines are judged by."""

    tiers: Mapping[str, PgTier] = field(repr=False)  # core, main
    stores: ArchiveStores = field(repr=False)
    backup_store: Callable[[], Store] = field(repr=False)
    tables: Mapping[str, TablePolicy]
    timezone: str
    limits: Tiers = field(repr=False)  # quota lines, Supabase's read-only line and cycle
    backup: Backup  # the schedules a backup's age is judged by
    forecast_alert_days: int
    endpoints: tuple[HealthEndpoint, ...]
    home: Path  # reports/ (the free-tier document the daily asset stored)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def today(self) -> dt.date:
        """Today in the configured zone: the default `as_of`."""
        return dt.datetime.now(self.zone).date()

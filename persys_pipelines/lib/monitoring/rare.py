"""The rare alerts (the ones SMS carries, lib/monitoring/sms.py) that no single event makes:
a scheduled run failing three nights in a row, backups failing twice in a row, the core
project down (paused) for a quarter of an hour. The quota's critical line is alerted by the
quota sensor itself (watch.py). Each alert's key names what it is about, so the outbox sends
it once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from . import health
from .context import HealthContext

NIGHTS = 3
BACKUPS_IN_A_ROW = 2
BACKUP_JOB = "backup_tier"  # defs/backup
CORE_URLS = ("supabase:core", "tier:core")
DOWN_FOR = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Outcome:
    """A finished run as the rare checks see it."""

    run_id: str
    job: str
    day: dt.date  # the local day it started
    ok: bool
    scheduled: bool  # started by a schedule (a night's run), not by hand


def failing_nights(outcomes: list[Outcome], nights: int = NIGHTS) -> list[tuple[str, dt.date]]:
    """(job, last night) of each scheduled job that failed on each of the last `nights`
    consecutive days it ran, with no successful run on any of them."""
    found = []
    by_job: dict[str, dict[dt.date, bool]] = {}
    for o in outcomes:
        if o.scheduled:
            days = by_job.setdefault(o.job, {})
            days[o.day] = days.get(o.day, False) or o.ok
    for job, days in sorted(by_job.items()):
        last = sorted(days, reverse=True)[:nights]
        consecutive = len(last) == nights and all(
            (last[i] - last[i + 1]).days == 1 for i in range(nights - 1))
        if consecutive and not any(days[d] for d in last):
            found.append((job, last[0]))
    return found


def backups_failing(outcomes: list[Outcome], in_a_row: int = BACKUPS_IN_A_ROW) -> Outcome | None:
    """The latest backup run when it and the ones before it all failed."""
    runs = [o for o in outcomes if o.job == BACKUP_JOB]  # newest first
    if len(runs) >= in_a_row and not any(o.ok for o in runs[:in_a_row]):
        return runs[0]
    return None


def core_down(ctx: HealthContext, conn: psycopg.Connection, now: dt.datetime
              ) -> list[tuple[int, str]]:
    """(incident id, detail) of open incidents of the endpoints that watch core, older than
    DOWN_FOR (a blip is not worth a text message)."""
    names = [e.name for e in health.endpoints(ctx) if e.url in CORE_URLS]
    if not names:
        return []
    try:
        return conn.execute(
            "select id, detail from persys.incidents where resolved_at is null "
            "and endpoint = any(%s) and opened_at <= %s order by id",
            (names, now - DOWN_FOR)).fetchall()
    except psycopg.errors.UndefinedTable:
        return []


def alerts(outcomes: list[Outcome], incidents: list[tuple[int, str]]
           ) -> list[tuple[str, str, str]]:
    """(key, subject, body) of every rare alert due now."""
    out = []
    for job, night in failing_nights(outcomes):
        out.append((f"run-failing-nights:{job}:{night}", f"🚨 persys: {job} failed {NIGHTS} "
                    "nights in a row", f"The scheduled runs of {job} failed each night up to "
                    f"{night}. Open the run in the Dagster UI to see why."))
    backup = backups_failing(outcomes)
    if backup is not None:
        out.append((f"backups-failing:{backup.run_id}", "🚨 persys: backups are failing",
                    f"The last {BACKUPS_IN_A_ROW} backup runs failed (latest {backup.run_id}); "
                    "run `persys backup run` to see the error."))
    for incident_id, detail in incidents:
        out.append((f"core-paused:{incident_id}", "🚨 persys: the core database is down",
                    f"{detail} Is the Supabase project paused? Restore it in the dashboard."))
    return out

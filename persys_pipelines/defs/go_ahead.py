"""The person's go-ahead for the automations that move and delete rows.

`lifecycle_nightly` (core→main: deletes from core), `archive_due` (main→archive: deletes from
main) and `archive_purge_weekly` (deletes archive files) start paused on a new install: the
person first sees a plan (`persys lifecycle run --dry-run`) and then either runs
`persys lifecycle run` once or says `persys schedules on`. Either writes `<home>/go-ahead.json`;
the definitions read it when they load, so from then on these automations are on by default,
and a change made while `persys up` runs is applied to the running instance through the UI's
GraphQL API (cli/schedules.py). A choice made later in the UI (Automation page) is stored in
the instance and wins, as for every schedule. `core_quota_sensor` is not gated: its emergency
run at `critical_pct` is what keeps a full Supabase project writable.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import dagster as dg

SCHEDULES = ("lifecycle_nightly", "archive_purge_weekly")
SENSORS = ("archive_due",)
GATED = (*SCHEDULES, *SENSORS)
FILE = "go-ahead.json"


@dataclass(frozen=True)
class GoAhead:
    on: bool
    since: str  # ISO time of the decision
    reason: str  # what gave it: "`persys lifecycle run` ran", "`persys schedules on`"
    pending: bool  # not yet applied to the instance (persys up was not running)


def path(home: Path) -> Path:
    return home / FILE


def read(home: Path) -> GoAhead | None:
    """The recorded decision; None on a new install (or an unreadable file: still paused)."""
    try:
        return GoAhead(**json.loads(path(home).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write(home: Path, *, on: bool, reason: str, pending: bool) -> GoAhead:
    decision = GoAhead(on, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), reason,
                       pending)
    home.mkdir(parents=True, exist_ok=True)
    tmp = path(home).with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(decision)) + "\n")
    tmp.replace(path(home))
    return decision


def given(home: Path) -> bool:
    decision = read(home)
    return decision is not None and decision.on


def schedule_status(home: Path) -> dg.DefaultScheduleStatus:
    return (dg.DefaultScheduleStatus.RUNNING if given(home)
            else dg.DefaultScheduleStatus.STOPPED)


def sensor_status(home: Path) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if given(home) else dg.DefaultSensorStatus.STOPPED

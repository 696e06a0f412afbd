"""Archive wiring: `archive/<table>` monthly assets, their file check, the due-month sensor,
the purge job and the monthly restore drill. The work itself is in lib/archive/."""

from __future__ import annotations

import dagster as dg

from ...lib.config import Config
from .assets import archive_assets, archive_job
from .drill import drill_job, drill_schedule
from .notice import purge_notice_sensor
from .purge import purge_job, purge_schedule
from .sensors import archive_due_sensor


def definitions(cfg: Config) -> dg.Definitions:
    job = archive_job(cfg)
    purge = purge_job()
    drill = drill_job()
    return dg.Definitions(
        assets=archive_assets(cfg),
        jobs=[job, purge, drill],
        schedules=[purge_schedule(cfg, purge), drill_schedule(cfg, drill)],
        sensors=[archive_due_sensor(cfg, job), purge_notice_sensor()],
    )

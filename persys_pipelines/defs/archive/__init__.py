"""Archive wiring: `archive/<table>` monthly assets, their file check, the due-month sensor and
the purge job. The work itself is lib/archive.py and lib/archive_ops.py."""

from __future__ import annotations

import dagster as dg

from ...lib.config import Config
from .assets import archive_assets, archive_job
from .purge import purge_job, purge_schedule
from .sensors import archive_due_sensor


def definitions(cfg: Config) -> dg.Definitions:
    job = archive_job(cfg)
    purge = purge_job()
    return dg.Definitions(
        assets=archive_assets(cfg),
        jobs=[job, purge],
        schedules=[purge_schedule(cfg, purge)],
        sensors=[archive_due_sensor(cfg, job)],
    )

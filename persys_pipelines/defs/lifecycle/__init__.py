"""Lifecycle wiring: core tables as observable sources, main/<table> moves, job and schedule."""

from __future__ import annotations

import dagster as dg

from ...lib.config import Config
from .assets import main_assets
from .schedules import lifecycle_job, nightly_schedule
from .sources import core_sources


def definitions(cfg: Config) -> dg.Definitions:
    job = lifecycle_job(cfg)
    return dg.Definitions(
        assets=[*core_sources(cfg), *main_assets(cfg)],
        jobs=[job],
        schedules=[nightly_schedule(cfg, job)],
    )

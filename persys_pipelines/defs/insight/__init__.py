"""Insight wiring: the weekly correlations of the person's metrics, its job and schedule."""

from __future__ import annotations

import dagster as dg

from ...lib.config import Config
from .assets import correlations_asset, weekly_schedule


def definitions(cfg: Config) -> dg.Definitions:
    job, schedule = weekly_schedule(cfg)
    return dg.Definitions(assets=[correlations_asset(cfg)], jobs=[job], schedules=[schedule])

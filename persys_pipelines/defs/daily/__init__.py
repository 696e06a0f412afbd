"""Daily wiring: summary and projection assets, their checks, the morning schedule."""

from __future__ import annotations

import dagster as dg

from ...lib.config import Config
from .assets import projection_asset, summary_asset
from .checks import summary_checks
from .schedules import morning


def definitions(cfg: Config) -> dg.Definitions:
    job, schedule = morning(cfg)
    return dg.Definitions(
        assets=[summary_asset(cfg), projection_asset(cfg)],
        asset_checks=summary_checks(cfg),
        jobs=[job],
        schedules=[schedule],
    )

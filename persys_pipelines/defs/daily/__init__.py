"""Daily wiring: summary and projection assets, their checks, the morning schedule, the
catch-up sensor and the freshness schedule."""

from __future__ import annotations

import dagster as dg

from ...lib.config import Config
from .assets import projection_asset, summary_asset
from .catch_up import catch_up_job, daily_catch_up
from .checks import summary_checks
from .freshness import daily_freshness_alert
from .schedules import morning


def definitions(cfg: Config) -> dg.Definitions:
    job, schedule = morning(cfg)
    return dg.Definitions(
        assets=[summary_asset(cfg), projection_asset(cfg)],
        asset_checks=summary_checks(cfg),
        jobs=[job, catch_up_job],
        schedules=[schedule, daily_freshness_alert],
        sensors=[daily_catch_up],
    )

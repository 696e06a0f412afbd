"""A ranged run of the morning job from Python (`persys demo`): one run for all the days."""

import datetime as dt

import dagster as dg

from ...lib.config import Config
from ..runner import run_job


def backfill(cfg: Config, config_path: str | None, first: dt.date, last: dt.date
             ) -> dg.ExecuteInProcessResult:
    """Summaries and projections of [first, last] as one run (recorded in DAGSTER_HOME's
    instance when set, so `persys up` shows the materializations and the last day's chart)."""
    from ...definitions import build_definitions  # the full Definitions, resources bound

    return run_job(build_definitions(cfg, config_path), "daily_morning_job",
                   tags={"dagster/asset_partition_range_start": first.isoformat(),
                         "dagster/asset_partition_range_end": last.isoformat()})

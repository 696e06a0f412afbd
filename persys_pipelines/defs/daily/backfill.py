"""A ranged run of the morning job from Python (`persys demo`): recorded in the instance."""

import datetime as dt

import dagster as dg

from ...lib.config import Config
from ...lib.instance import prepare_dagster_home

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def backfill(cfg: Config, config_path: str | None, first: dt.date, last: dt.date
             ) -> dg.ExecuteInProcessResult:
    """Summaries and projections of [first, last] as one run in `<home>/dagster`, so `persys
    up` shows the materializations (and the last day's chart) afterwards."""
    from ...definitions import build_definitions  # the full Definitions, resources bound

    prepare_dagster_home(cfg.home)
    job = build_definitions(cfg, config_path).resolve_job_def("daily_morning_job")
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(
            instance=instance, run_config=QUIET,
            tags={"dagster/asset_partition_range_start": first.isoformat(),
                  "dagster/asset_partition_range_end": last.isoformat()},
        )

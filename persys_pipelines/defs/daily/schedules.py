"""Every morning at `daily.morning_hour` (configured zone): summary and projection of yesterday."""

from __future__ import annotations

import dagster as dg

from ...lib.config import Config


def morning(cfg: Config) -> tuple[dg.UnresolvedAssetJobDefinition, dg.ScheduleDefinition]:
    job = dg.define_asset_job(
        "daily_morning_job",
        selection=dg.AssetSelection.assets("daily_summary", "daily_projection"),
        description="Yesterday's summary and projection (the schedule), or any range.",
    )
    schedule = dg.build_schedule_from_partitioned_job(
        job,
        name="daily_morning_schedule",
        hour_of_day=cfg.daily.morning_hour,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Every morning at {cfg.daily.morning_hour:02d}:00 {cfg.timezone}: "
        "yesterday's summary and projection.",
    )
    return job, schedule

"""Monitoring wiring: quota/health/run-failure sensors, daily usage, uptime and report assets."""

from __future__ import annotations

import dagster as dg

from ...lib.config import Config
from .assets import assets
from .checks import tiers_under_quota
from .failures import run_failure_notify_sensor
from .health import health_check_sensor
from .keepalive import supabase_pause_guard
from .quota import LIFECYCLE_JOB, core_quota_sensor


def definitions(cfg: Config, emergency_job: str | None = LIFECYCLE_JOB) -> dg.Definitions:
    """`emergency_job`: the lifecycle job the quota sensor asks for an emergency migration."""
    monitoring_assets = assets(cfg)
    # partitioned as its assets are (Dagster infers it; passing it is deprecated)
    job = dg.define_asset_job("monitoring_daily_job", selection=monitoring_assets,
                              description="Yesterday's free-tier usage, uptime and the "
                                          "Markdown report.")
    schedule = dg.build_schedule_from_partitioned_job(
        job, name="monitoring_daily_schedule", hour_of_day=7,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="07:00 every morning: usage, uptime and report for yesterday.")
    return dg.Definitions(
        assets=monitoring_assets, asset_checks=[tiers_under_quota], jobs=[job],
        schedules=[schedule],
        sensors=[core_quota_sensor(emergency_job), health_check_sensor(),
                 run_failure_notify_sensor, supabase_pause_guard],
    )


def emergency_job(lifecycle_defs: dg.Definitions) -> str | None:
    """The lifecycle job's name when the lifecycle defines it (else no emergency requests)."""
    names = {getattr(j, "name", None) for j in lifecycle_defs.jobs or []}
    return LIFECYCLE_JOB if LIFECYCLE_JOB in names else None

"""The core→main job and its nightly schedule: one run per night for all tables, covering
only the range of days that is due (asked of core's data at evaluation time)."""


import datetime as dt
from typing import Any, TypeAlias

import dagster as dg

from ... import handles
from ...lib.config import Config
from ...lib.tiering import lifecycle
from .. import go_ahead, tags
from ..partitions import daily
from ..resources import PersysConfigResource, PostgresTierResource
from .assets import main_key

# What dg.define_asset_job returns; its class is not part of Dagster's public API.
AssetJob: TypeAlias = Any

JOB_NAME = "lifecycle_core_to_main"
SCHEDULE_NAME = "lifecycle_nightly"
NIGHTLY_CRON = "30 2 * * *"  # 02:30 local: after midnight, before the morning summaries


def lifecycle_job(cfg: Config) -> AssetJob:
    return dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.assets(*[main_key(t) for t in cfg.tables]),
        description="Move due days of every table from core to main (ranged, one run).",
        run_tags=tags.lifecycle(tags.CORE_TO_MAIN),
    )


def run_request_tags(cfg: Config, plans: dict[str, lifecycle.planner.TablePlan],
                     as_of: dt.date) -> dict[str, str] | None:
    """Partition-range tags covering exactly the due days (clamped to the partitions), or None
    when nothing is due."""
    due = [p for p in plans.values() if p.days]
    if not due:
        return None
    partitions = daily(cfg)
    first_key, last_key = partitions.get_first_partition_key(), partitions.get_last_partition_key()
    start = max(min(p.first_day for p in due).isoformat(), first_key)
    end = min(max(p.last_day for p in due).isoformat(), last_key)
    end = max(end, start)
    return {**tags.partition_range(start, end), tags.AS_OF_TAG: as_of.isoformat(),
            **tags.lifecycle(tags.CORE_TO_MAIN)}


def nightly_schedule(cfg: Config, job: AssetJob) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=SCHEDULE_NAME,
        job=job,
        cron_schedule=NIGHTLY_CRON,
        execution_timezone=cfg.timezone,
        default_status=go_ahead.schedule_status(cfg.home),  # paused until the go-ahead
        description="Nightly: plan from core's data, one ranged run for all due days.",
    )
    def _nightly(context: dg.ScheduleEvaluationContext, persys_config: PersysConfigResource,
                 core: PostgresTierResource):
        run_cfg = persys_config.load()
        as_of = context.scheduled_execution_time.astimezone(run_cfg.zone).date()
        plans = lifecycle.plan(core.handle(), handles.specs(run_cfg), as_of)
        run_tags = run_request_tags(run_cfg, plans, as_of)
        if run_tags is None:
            return dg.SkipReason(f"nothing due in core as of {as_of}")
        return dg.RunRequest(
            run_key=f"lifecycle-{as_of.isoformat()}",
            tags=run_tags,
            asset_selection=[main_key(t) for t, p in plans.items() if p.days],
        )

    return _nightly

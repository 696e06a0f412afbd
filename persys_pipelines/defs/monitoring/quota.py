"""Core quota sensor: usage history, one alert per crossing, one emergency lifecycle run."""

import datetime as dt
import logging

import dagster as dg

from ...handles_monitoring import watch
from ...lib.config import Config
from ...lib.monitoring.quota import EmergencyPlan
from ...lib.monitoring.watch import QuotaTick, quota_tick
from ..resources import NotifierResource, PersysConfigResource, PostgresTierResource
from ..tags import AS_OF_TAG, EMERGENCY, MOVE_BEFORE_TAG, REASON_TAG, lifecycle, partition_range

log = logging.getLogger(__name__)

# The lifecycle's core→main job (defs/lifecycle/schedules.py). An emergency run is an ordinary
# ranged run of it over the days to move, tagged `persys/move_core_before=<cut-off>`: the
# lifecycle then moves every core day before the cut-off, ahead of the tables' policies
# (defs/lifecycle/assets.py, planner.plan_table(before=...)), and drops the emptied months.
LIFECYCLE_JOB = "lifecycle_core_to_main"
EMERGENCY_TAG = MOVE_BEFORE_TAG


def emergency_tags(cfg: Config, plan: EmergencyPlan, as_of: dt.date) -> dict[str, str]:
    """Partition range [oldest day in core, cut-off - 1] (clamped to the partitions: the first
    partition stands for older days, the last for everything up to the cut-off)."""
    from ..partitions import daily

    parts = daily(cfg)
    first_key, last_key = parts.get_first_partition_key(), parts.get_last_partition_key()
    start = min(max(plan.first_day.isoformat(), first_key), last_key)
    end = min(max((plan.cutoff - dt.timedelta(days=1)).isoformat(), start), last_key)
    return {**partition_range(start, end), AS_OF_TAG: as_of.isoformat(),
            EMERGENCY_TAG: plan.cutoff.isoformat(), REASON_TAG: "core quota",
            **lifecycle(EMERGENCY)}


def emergency_request(cfg: Config, tick: QuotaTick, job_name: str | None
                      ) -> tuple[list[dg.RunRequest], list[str]]:
    """The emergency migration the tick asks for, as one ranged run of the lifecycle job."""
    if tick.emergency is None or tick.run_key is None or tick.today is None:
        return [], []
    if job_name is None:
        return [], ["critical, but no lifecycle job is defined to run the migration"]
    plan = tick.emergency
    request = dg.RunRequest(run_key=tick.run_key, job_name=job_name,
                            tags=emergency_tags(cfg, plan, tick.today))
    return [request], [f"emergency lifecycle run requested: core days before {plan.cutoff} "
                       f"(should return {plan.expected_bytes / 1024 / 1024:.1f} MB)"]


def core_quota_sensor(job_name: str | None, interval_s: int = 60) -> dg.SensorDefinition:
    @dg.sensor(name="core_quota_sensor", job_name=job_name,
               minimum_interval_seconds=interval_s, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Records core usage; warns at warn_pct, requests one emergency "
                           "lifecycle run at critical_pct.")
    def _sensor(context: dg.SensorEvaluationContext, persys_config: PersysConfigResource,
                core: PostgresTierResource, main: PostgresTierResource,
                notifier: NotifierResource):
        cfg = persys_config.load()
        tick = quota_tick(watch(cfg), core.handle(), main.handle(), notifier.handle(),
                          context.cursor)
        requests, more = emergency_request(cfg, tick, job_name)
        notes = tick.notes + more
        for note in notes:
            context.log.info(note)
        context.update_cursor(tick.cursor)
        if not requests:
            return dg.SkipReason("; ".join(notes) or "core usage recorded, nothing to do")
        return requests

    return _sensor


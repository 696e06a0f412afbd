"""Core quota sensor: usage history, one alert per crossing, one emergency lifecycle run."""

import datetime as dt
import logging

import dagster as dg

from ...lib.config import Config
from ...lib.monitoring import forecast as forecast_lib
from ...lib.monitoring import usage
from ...lib.monitoring.quota import (
    REARM_MARGIN_PCT,
    EmergencyPlan,
    QuotaState,
    emergency_plan,
    step,
)
from ...lib.pg.tiers import resolve_tier
from ..resources import PersysConfigResource
from ..tags import AS_OF_TAG, EMERGENCY, MOVE_BEFORE_TAG, REASON_TAG, lifecycle, partition_range
from .alerts import notifier

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


# The sensor measures every tick but keeps one sample per tier per quarter-hour in the
# history (plenty for the forecast, which needs a day's span).
RECORD_GAP = dt.timedelta(minutes=15)


def quota_tick(cfg: Config, cursor: str | None, now: dt.datetime | None = None,
               job_name: str | None = LIFECYCLE_JOB) -> tuple[str, list[dg.RunRequest], list[str]]:
    """One tick, without Dagster's context: new cursor, run requests, log lines."""
    now = now or dt.datetime.now(dt.UTC)
    core = resolve_tier(cfg, "core")
    sample = usage.measure(core, now)
    notes: list[str] = []
    history: list[usage.Usage] = []
    try:
        with resolve_tier(cfg, "main").connect() as main:
            usage.record(main, [sample, usage.measure(resolve_tier(cfg, "main"), now)],
                         min_gap=RECORD_GAP)
            history = usage.history(main, "core", now - dt.timedelta(days=30))
    except Exception as exc:  # main down must not stop the quota guard of core
        notes.append(f"usage history not recorded ({type(exc).__name__})")
    if sample.pct is None:
        return cursor or "", [], notes + ["core has no quota_mb: nothing to guard"]
    c = cfg.tiers.core
    state, actions = step(QuotaState.from_cursor(cursor), sample.pct, c.warn_pct,
                          c.critical_pct, now.timestamp())
    alerts = notifier(cfg)
    size = f"{sample.bytes / 1024 / 1024:.1f} MB of {sample.quota_bytes / 1024 / 1024:.0f} MB"
    if actions.warn:
        alerts.notify(actions.warn, f"⚠️ persys: core tier at {sample.pct:.1f}% of its quota",
                      f"{size}; warn_pct is {c.warn_pct:g}%. The nightly lifecycle moves old "
                      f"days to main; at {c.critical_pct:g}% an emergency migration starts.")
    requests = []
    if actions.emergency_run_key:
        target = int(sample.quota_bytes * (c.warn_pct - REARM_MARGIN_PCT) / 100)
        today = now.astimezone(cfg.zone).date()
        with core.connect() as conn:
            plan = emergency_plan(cfg, conn, sample.bytes, target, today)
        if plan is None:
            notes.append("critical, but no movable core days were found")
        elif job_name is None:
            notes.append("critical, but no lifecycle job is defined to run the migration")
        else:
            requests.append(dg.RunRequest(
                run_key=actions.emergency_run_key, job_name=job_name,
                tags=emergency_tags(cfg, plan, today)))
            notes.append(f"emergency lifecycle run requested: core days before {plan.cutoff} "
                         f"(should return {plan.expected_bytes / 1024 / 1024:.1f} MB)")
    if actions.critical:
        alerts.notify(actions.critical, f"🚨 persys: core tier at {sample.pct:.1f}% of its quota",
                      f"{size}; critical_pct is {c.critical_pct:g}%. An emergency migration "
                      "moves the oldest core days to main until usage is below "
                      f"{c.warn_pct:g}% (Supabase turns read-only near 95%).")
    if actions.recovered:
        notes.append(f"core back under {c.warn_pct:g}%: the critical line is re-armed")
    fc = forecast_lib.forecast(history) if history else None
    if fc is not None:
        for crossing in forecast_lib.soon(fc, now, cfg.notify.forecast_alert_days):
            alerts.notify(
                f"forecast:core:{crossing.line}:{state.warnings}",
                f"📈 persys: core reaches {crossing.line}% around {crossing.at:%Y-%m-%d}",
                f"At the current growth ({fc.bytes_per_day / 1024 / 1024:+.2f} MB/day) the core "
                f"tier crosses {crossing.line}% in {crossing.days_from(now):.0f} days.")
    alerts.flush()  # alerts that failed on an earlier tick are retried here
    return state.to_cursor(), requests, notes


def core_quota_sensor(job_name: str | None, interval_s: int = 60) -> dg.SensorDefinition:
    @dg.sensor(name="core_quota_sensor", job_name=job_name,
               minimum_interval_seconds=interval_s, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Records core usage; warns at warn_pct, requests one emergency "
                           "lifecycle run at critical_pct.")
    def _sensor(context: dg.SensorEvaluationContext, persys_config: PersysConfigResource):
        cursor, requests, notes = quota_tick(persys_config.load(), context.cursor,
                                             job_name=job_name)
        for note in notes:
            context.log.info(note)
        context.update_cursor(cursor)
        if not requests:
            return dg.SkipReason("; ".join(notes) or "core usage recorded, nothing to do")
        return requests

    return _sensor


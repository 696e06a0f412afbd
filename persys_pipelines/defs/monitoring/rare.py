"""The rare-alert sensor: runs failing night after night, backups failing, core down. It
exists when `notifications.sms` is configured (these are what SMS is for) and alerts through
every channel; the SMS channel takes only these and the quota's critical line."""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg

from ...handles_monitoring import health_context
from ...lib.config import Config
from ...lib.monitoring import rare
from ..resources import NotifierResource, PersysConfigResource, PostgresTierResource

LOOK_BACK = dt.timedelta(days=5)


def mine(run: dg.DagsterRun) -> bool:
    """In a household's shared instance, only this person's runs (their code location)."""
    person = os.environ.get("PERSYS_PERSON")
    owner = run.tags.get("dagster/code_location") or run.tags.get("persys/person")
    return person is None or owner == person


def recent_outcomes(instance: dg.DagsterInstance, cfg: Config, now: dt.datetime
                    ) -> list[rare.Outcome]:
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS,
                                        dg.DagsterRunStatus.FAILURE],
                              created_after=now - LOOK_BACK), limit=500)
    return [rare.Outcome(r.dagster_run.run_id, r.dagster_run.job_name,
                         r.create_timestamp.astimezone(cfg.zone).date(),
                         r.dagster_run.status == dg.DagsterRunStatus.SUCCESS,
                         "dagster/schedule_name" in r.dagster_run.tags)
            for r in records if mine(r.dagster_run)]


@dg.sensor(name="rare_alert_sensor", minimum_interval_seconds=300,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Alerts (SMS too) when a scheduled run failed 3 nights in a row, backups "
                       "failed twice in a row, or core has been down for 15 minutes.")
def rare_alert_sensor(context: dg.SensorEvaluationContext, persys_config: PersysConfigResource,
                      main: PostgresTierResource, notifier: NotifierResource):
    cfg = persys_config.load()
    now = dt.datetime.now(dt.UTC)
    outcomes = recent_outcomes(context.instance, cfg, now)
    with main.handle().connect() as conn:
        down = rare.core_down(health_context(cfg), conn, now)
    found = rare.alerts(outcomes, down)
    alerts = notifier.handle()
    for key, subject, body in found:
        alerts.notify(key, subject, body)
    return dg.SkipReason("; ".join(s for _, s, _ in found) or
                         f"nothing rare in {len(outcomes)} recent runs")


def definitions(cfg: Config) -> dg.Definitions:
    return dg.Definitions(sensors=[rare_alert_sensor] if cfg.notifications.sms else [])

"""Housekeeping of the Dagster instance itself, so its database stays bounded over years.

Ticks: Dagster's own `retention:` (dagster.yaml, written from persys.yaml's `instance:` by
`persys up`) purges schedule and sensor ticks. Runs: Dagster has no retention of its own, so
the job `instance_retention` (daily, 04:45 local) deletes finished runs older than
`instance.keep_runs_days` through `DagsterInstance.delete_run`, after keeping each partition's
latest materialization as a small runless event (retention.py), so partition status stays
right in the UI. Its step takes no tier and no lock: it touches only the instance.
"""


import datetime as dt

import dagster as dg

from ...lib.config import Config
from ..resources import PersysConfigResource
from .retention import prune

JOB_NAME = "instance_retention"
CRON = "45 4 * * *"  # after the night's moves, backups and purge


@dg.op(name="prune_instance",
       description="Delete finished runs older than instance.keep_runs_days; each partition "
                   "they last materialized keeps a runless materialization.")
def prune_instance_op(context: dg.OpExecutionContext, persys_config: PersysConfigResource
                      ) -> None:
    days = persys_config.load().instance.keep_runs_days
    before = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    done = prune(context.instance, before, kept_days=days)
    context.log.info(f"{done.runs} run(s) created before {before:%Y-%m-%d} deleted; "
                     f"{done.partitions_kept} partition(s) kept as runless materializations; "
                     f"{done.check_rows} asset check row(s) of those runs deleted"
                     + ("; more are due: the next run goes on" if done.more else ""))
    context.add_output_metadata({"runs_deleted": done.runs,
                                 "partitions_kept": done.partitions_kept,
                                 "check_rows_deleted": done.check_rows, "more_due": done.more})


@dg.job(name=JOB_NAME, description="Keep the Dagster instance bounded: old runs go, every "
                                   "partition's status stays (instance.keep_runs_days).")
def instance_retention_job() -> None:
    prune_instance_op()


def definitions(cfg: Config) -> dg.Definitions:
    schedule = dg.ScheduleDefinition(
        name="instance_retention_daily", job=instance_retention_job, cron_schedule=CRON,
        execution_timezone=cfg.timezone, default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Daily: delete runs older than {cfg.instance.keep_runs_days} days "
                    "(instance.keep_runs_days), partition status kept.")
    return dg.Definitions(jobs=[instance_retention_job], schedules=[schedule])

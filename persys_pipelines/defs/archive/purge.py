"""The purge job: archive files past `delete_days` are deleted (ledger row each), weekly."""

import dagster as dg

from ...lib import archive_ops
from ..resources import PersysConfigResource

JOB_NAME = "archive_purge"


@dg.op(description="Delete archive files whose newest day is older than delete_days.")
def purge_expired(context: dg.OpExecutionContext, persys_config: PersysConfigResource) -> None:
    items = archive_ops.purge(persys_config.load(), run_id=context.run_id)
    for item in items:
        context.log.info(f"purged {item.key} ({item.rows} rows up to {item.max_day})")
    context.add_output_metadata({"files": len(items), "rows": sum(i.rows for i in items)})


def purge_job() -> dg.JobDefinition:
    @dg.job(name=JOB_NAME, description="Delete archive files past delete_days.")
    def _purge():
        purge_expired()

    return _purge


def purge_schedule(cfg, job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="archive_purge_weekly", job=job, cron_schedule="0 4 * * 0",
        execution_timezone=cfg.timezone, default_status=dg.DefaultScheduleStatus.RUNNING)

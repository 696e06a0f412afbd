"""The purge job: archive files past `delete_days` are deleted (ledger row each), weekly."""

import datetime as dt

import dagster as dg

from ... import handles
from .. import go_ahead
from ..resources import PersysConfigResource
from ..retries import NETWORK_RETRY, terminal_errors
from ..tags import AS_OF_TAG, LIFECYCLE_POOL, PURGE, lifecycle

JOB_NAME = "archive_purge"


@dg.op(description="Delete archive files whose newest day is older than delete_days.",
       retry_policy=NETWORK_RETRY,  # the store may be S3; each delete is in the ledger
       pool=LIFECYCLE_POOL)
def purge_expired(context: dg.OpExecutionContext, persys_config: PersysConfigResource) -> None:
    cfg = persys_config.load()
    tag = context.run.tags.get(AS_OF_TAG)  # `persys lifecycle run --as-of`
    as_of = dt.date.fromisoformat(tag) if tag else cfg.today()
    with terminal_errors():
        items = handles.purge_due(cfg, as_of, run_id=context.run.run_id)
    tables: dict[str, dict] = {}
    for item in items:
        context.log.info(f"purged {item.key} ({item.rows} rows up to {item.max_day})")
        t = tables.setdefault(item.table, {"files": 0, "rows": 0, "bytes": 0})
        t.update(files=t["files"] + 1, rows=t["rows"] + item.rows, bytes=t["bytes"] + item.bytes)
    context.add_output_metadata({"as_of": as_of.isoformat(), "files": len(items),
                                 "rows": sum(i.rows for i in items), "tables": tables})


def purge_job() -> dg.JobDefinition:
    @dg.job(name=JOB_NAME, description="Delete archive files past delete_days.",
            run_tags=lifecycle(PURGE))
    def _purge():
        purge_expired()

    return _purge


def purge_schedule(cfg, job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="archive_purge_weekly", job=job, cron_schedule="0 4 * * 0",
        execution_timezone=cfg.timezone,
        default_status=go_ahead.schedule_status(cfg.home),  # paused until the go-ahead
        tags=lifecycle(PURGE),
        description="Sundays 04:00: delete archive files whose days are all past delete_days.")

"""The restore drill, monthly: archived months restored into a scratch schema and compared.

A mismatch fails the op (no retry: another attempt finds the same bytes), so the run fails and
the run-failure sensor (defs/monitoring/failures.py) alerts. The drill moves no rows, so it is
not under the one-move-at-a-time limit.
"""

import dagster as dg

from ...handles import archive_stores, keyring, resolve_tier
from ...lib.archive import drill as drill_lib
from ..resources import PersysConfigResource
from ..retries import NETWORK_RETRY, terminal_errors

JOB_NAME = "archive_drill"
DRILL_MONTHS = 3  # files drilled per run, picked at random


@dg.op(description="Restore a few archived months into a scratch schema in main and compare "
                   "rows and checksums with the manifest and the ledger; fail on a mismatch.",
       retry_policy=NETWORK_RETRY)
def restore_drill(context: dg.OpExecutionContext, persys_config: PersysConfigResource) -> None:
    with terminal_errors():
        cfg = persys_config.load()
        results = drill_lib.drill(resolve_tier(cfg, "main"), archive_stores(cfg, check=False),
                                  keyring(cfg), list(cfg.tables), months=DRILL_MONTHS)
    for r in results:
        (context.log.info if r.ok else context.log.error)(r.line())
    bad = [r for r in results if not r.ok]
    context.add_output_metadata({"files": len(results), "bad": len(bad),
                                 "lines": "\n".join(r.line() for r in results)})
    if bad:
        raise dg.Failure(description="restore drill: " + "; ".join(r.line() for r in bad),
                         allow_retries=False)


def drill_job() -> dg.JobDefinition:
    @dg.job(name=JOB_NAME, description="Restore drill of archived months (scratch schema).")
    def _drill():
        restore_drill()

    return _drill


def drill_schedule(cfg, job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="archive_drill_monthly", job=job, cron_schedule="30 4 1 * *",
        execution_timezone=cfg.timezone, default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"The 1st, 04:30: restore {DRILL_MONTHS} archived months at random into a "
                    "scratch schema; a mismatch fails the run (and alerts).")

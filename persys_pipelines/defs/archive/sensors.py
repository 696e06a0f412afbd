"""The archive sensor: asks main which months became due and requests one run per
(table, month). The run key (`archive.month_run_key`) carries how often the month was archived
(ledger) and its rows in main, so Dagster requests a month once per state of its data: rows
that arrive later for an archived month get a new key and a new run."""

import dagster as dg

from ... import handles
from ...handles import resolve_tier
from ...lib.moves import main_archive as archive
from .. import go_ahead
from ..lifecycle.schedules import AssetJob
from ..partitions import monthly
from ..resources import PersysConfigResource
from ..tags import MAIN_TO_ARCHIVE, lifecycle
from .assets import archive_key

SENSOR_NAME = "archive_due"


def archive_due_sensor(cfg, job: AssetJob) -> dg.SensorDefinition:
    tables = [t for t, p in cfg.tables.items() if p.main_days is not None]

    @dg.sensor(name=SENSOR_NAME, job=job, minimum_interval_seconds=6 * 3600,
               default_status=go_ahead.sensor_status(cfg.home),  # paused until the go-ahead
               description="Request archive runs for months older than main_days.")
    def _due(context: dg.SensorEvaluationContext, persys_config: PersysConfigResource):
        run_cfg = persys_config.load()
        as_of = run_cfg.today()
        tier = resolve_tier(run_cfg, "main")
        first_key = monthly(run_cfg).get_first_partition_key()
        requests = []
        for table in tables:
            generations = archive.month_generations(tier, table)
            for month, rows in archive.due_month_rows(
                    tier, handles.spec(run_cfg, table), as_of).items():
                requests.append(dg.RunRequest(
                    run_key=archive.month_run_key(table, month, rows, generations.get(month, 0)),
                    # months before start_date: the first partition stands for them
                    partition_key=max(month.isoformat(), first_key),
                    tags=lifecycle(MAIN_TO_ARCHIVE),
                    asset_selection=[archive_key(table)]))
        if not requests:
            return dg.SkipReason(f"no month older than main_days has rows in main ({as_of})")
        return requests

    return _due

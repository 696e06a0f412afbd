"""The archive sensor: asks main which months became due and requests one run per
(table, month). The run key makes Dagster request a month once; rows that arrive later for
an archived month are picked up by `persys lifecycle run` / `persys archive run`."""

import dagster as dg

from ...lib import archive
from ..resources import PersysConfigResource
from .assets import archive_key

SENSOR_NAME = "archive_due"


def archive_due_sensor(cfg, job: "dg.UnresolvedAssetJobDefinition") -> dg.SensorDefinition:
    tables = [t for t, p in cfg.tables.items() if p.main_days is not None]

    @dg.sensor(name=SENSOR_NAME, job=job, minimum_interval_seconds=6 * 3600,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Request archive runs for months older than main_days.")
    def _due(context: dg.SensorEvaluationContext, persys_config: PersysConfigResource):
        run_cfg = persys_config.load()
        as_of = run_cfg.today()
        requests = []
        for table in tables:
            for month in archive.due_months(run_cfg, table, as_of):
                key = month.strftime("%Y-%m-01")
                requests.append(dg.RunRequest(
                    run_key=f"archive/{table}/{key[:7]}", partition_key=key,
                    asset_selection=[archive_key(table)]))
        if not requests:
            return dg.SkipReason(f"no month older than main_days has rows in main ({as_of})")
        return requests

    return _due

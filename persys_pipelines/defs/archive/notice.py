"""`purge_notice`: once a day, the archived days retention deletes within 14 days are told to
the person (one notification per file, with how to keep them)."""

import dagster as dg

from ...handles import deletions_ahead
from ...lib.monitoring import retention
from ..resources import NotifierResource, PersysConfigResource

SENSOR_NAME = "purge_notice"


def purge_notice_sensor() -> dg.SensorDefinition:
    @dg.sensor(name=SENSOR_NAME, minimum_interval_seconds=24 * 3600,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Tell the person which archived days retention deletes within "
                           f"{retention.NOTICE_DAYS} days, and how to keep them.")
    def _notice(context: dg.SensorEvaluationContext, persys_config: PersysConfigResource,
                notifier: NotifierResource):
        cfg = persys_config.load()
        soon = deletions_ahead(cfg)
        if not soon:
            return dg.SkipReason(f"nothing is deleted within {retention.NOTICE_DAYS} days")
        retention.announce(notifier.handle(), soon)
        return dg.SkipReason(f"{len(soon)} archive files told ahead of their deletion")

    return _notice

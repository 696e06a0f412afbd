"""Health-check sensor: configured endpoints, incidents opened/resolved, alerts on change
(lib/monitoring/watch.health_tick)."""

import dagster as dg

from ...handles_monitoring import health_context
from ...lib.monitoring.watch import health_tick
from ..resources import NotifierResource, PersysConfigResource, PostgresTierResource


def health_check_sensor(interval_s: int = 60) -> dg.SensorDefinition:
    @dg.sensor(name="health_check_sensor", minimum_interval_seconds=interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Checks health.endpoints when their interval is due; opens and "
                           "resolves incidents.")
    def _sensor(context: dg.SensorEvaluationContext, persys_config: PersysConfigResource,
                main: PostgresTierResource, notifier: NotifierResource):
        cfg = persys_config.load()
        if not cfg.health.endpoints:
            return dg.SkipReason("no endpoint configured (health.endpoints)")
        lines = health_tick(health_context(cfg), main.handle(), notifier.handle())
        return dg.SkipReason("; ".join(lines) or "no endpoint due")

    return _sensor

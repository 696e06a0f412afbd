"""Health-check sensor: configured endpoints, incidents opened/resolved, alerts on change."""

import datetime as dt

import dagster as dg

from ...lib.config import Config
from ...lib.monitoring import health
from ...lib.pg.tiers import resolve_tier
from ..resources import PersysConfigResource
from .alerts import notifier


def health_tick(cfg: Config, now: dt.datetime | None = None) -> list[str]:
    now = now or dt.datetime.now(dt.UTC)
    endpoints = health.endpoints(cfg)
    if not endpoints:
        return []
    alerts = notifier(cfg)
    with resolve_tier(cfg, "main").connect() as main:
        due = health.due(main, endpoints, now)
        results = [health.check(cfg, e, at=now) for e in due]
        transitions = health.record(main, results)
    for t in transitions:
        state = "recovered" if t.ok else "is down"
        alerts.notify(f"incident:{t.incident_id}:{'resolved' if t.ok else 'opened'}",
                      f"{'✅' if t.ok else '❌'} persys: {t.endpoint} {state}", t.detail)
    alerts.flush()
    return [f"{r.endpoint}: {'ok' if r.ok else 'FAIL'} {r.detail}" for r in results]


def health_check_sensor(interval_s: int = 60) -> dg.SensorDefinition:
    @dg.sensor(name="health_check_sensor", minimum_interval_seconds=interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Checks health.endpoints when their interval is due; opens and "
                           "resolves incidents.")
    def _sensor(context: dg.SensorEvaluationContext, persys_config: PersysConfigResource):
        lines = health_tick(persys_config.load())
        return dg.SkipReason("; ".join(lines) or "no endpoint due")

    return _sensor

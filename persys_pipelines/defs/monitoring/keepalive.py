"""Supabase pause guard: a real query of core at least every `tiers.core.keepalive_days`, an
alert when the project is found paused or restricted (lib/monitoring/keepalive.py)."""

import dagster as dg

from ...handles_monitoring import watch
from ...lib.monitoring.keepalive import guarded, keepalive_tick
from ..resources import NotifierResource, PersysConfigResource, PostgresTierResource


@dg.sensor(name="supabase_pause_guard", minimum_interval_seconds=3600,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Free Supabase projects pause after 7 days without real queries: reads "
                       "a real table of core (SQL and REST) at least every "
                       "tiers.core.keepalive_days; alerts when the project is paused or "
                       "restricted (HTTP 540/402).")
def supabase_pause_guard(context: dg.SensorEvaluationContext,
                         persys_config: PersysConfigResource, core: PostgresTierResource,
                         main: PostgresTierResource, notifier: NotifierResource):
    w = watch(persys_config.load())
    if not guarded(w):
        return dg.SkipReason("core is not a Supabase project (or tiers.core.keepalive_days is "
                             "null): nothing to keep awake")
    done = keepalive_tick(w, core.handle(), main.handle(), notifier.handle())
    if not done.due:
        return dg.SkipReason("the last keepalive is recent enough")
    return dg.SkipReason(f"keepalive {'ok' if done.ok else done.state.upper()}: {done.detail}")

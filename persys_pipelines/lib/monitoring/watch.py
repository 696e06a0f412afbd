"""One tick of each watching sensor, without Dagster: the core quota guard and the health
endpoints. The sensors in defs/monitoring only turn what these return into run requests and
skip reasons; every alert's wording is here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..pg.tiers import PgTier
from . import ceilings as ceilings_lib
from . import forecast as forecast_lib
from . import health, usage
from .context import HealthContext, Watch
from .notify import Notifier
from .quota import REARM_MARGIN_PCT, EmergencyPlan, QuotaState, emergency_plan, step

# The sensor measures every tick but keeps one sample per tier per quarter-hour in the
# history (plenty for the forecast, which needs a day's span).
RECORD_GAP = dt.timedelta(minutes=15)


@dataclass
class QuotaTick:
    cursor: str
    emergency: EmergencyPlan | None = None  # a migration to request, under `run_key`
    run_key: str | None = None
    today: dt.date | None = None
    notes: list[str] = field(default_factory=list)


def quota_tick(w: Watch, core: PgTier, main: PgTier, alerts: Notifier, cursor: str | None,
               now: dt.datetime | None = None) -> QuotaTick:
    """Measure core (and main), record the history, alert on crossings and forecasts, and say
    whether an emergency migration is due."""
    now = now or dt.datetime.now(dt.UTC)
    sample = usage.measure(core, now)
    notes: list[str] = []
    history: list[usage.Usage] = []
    ceil: ceilings_lib.Ceilings | None = None
    c = w.core
    try:
        with main.connect() as conn:
            usage.record(conn, [sample, usage.measure(main, now)], min_gap=RECORD_GAP)
            history = usage.history(conn, "core", now - dt.timedelta(days=30))
            ceil = ceilings_lib.from_history(
                conn, read_only_pct=c.read_only_pct, cycle_day=c.billing_cycle_day,
                target_pct=c.warn_pct - REARM_MARGIN_PCT, now=now)
    except Exception as exc:  # main down must not stop the quota guard of core
        notes.append(f"usage history not recorded ({type(exc).__name__})")
    if sample.pct is None:
        return QuotaTick(cursor or "", notes=notes + ["core has no quota_mb: nothing to guard"])
    state, actions = step(QuotaState.from_cursor(cursor), sample.pct, c.warn_pct,
                          c.critical_pct, now.timestamp())
    size = f"{sample.bytes / 1024 / 1024:.1f} MB of {sample.quota_bytes / 1024 / 1024:.0f} MB"
    if actions.warn:
        alerts.notify(actions.warn, f"⚠️ persys: core tier at {sample.pct:.1f}% of its quota",
                      f"{size}; warn_pct is {c.warn_pct:g}%. The nightly lifecycle moves old "
                      f"days to main; at {c.critical_pct:g}% an emergency migration starts.")
    out = QuotaTick("", notes=notes)
    if actions.emergency_run_key:
        target = int(sample.quota_bytes * (c.warn_pct - REARM_MARGIN_PCT) / 100)
        today = w.today(now)
        with core.connect() as conn:
            plan = emergency_plan(w.tables, w.timezone, conn, sample.bytes, target, today)
        if plan is None:
            notes.append("critical, but no movable core days were found")
        else:
            out.emergency, out.run_key, out.today = plan, actions.emergency_run_key, today
    if actions.critical:
        alerts.notify(actions.critical, f"🚨 persys: core tier at {sample.pct:.1f}% of its quota",
                      f"{size}; critical_pct is {c.critical_pct:g}%. An emergency migration "
                      "moves the oldest core days to main until usage is below "
                      f"{c.warn_pct:g}% (Supabase turns read-only near 95%).")
    if actions.recovered:
        notes.append(f"core back under {c.warn_pct:g}%: the critical line is re-armed")
    fc = forecast_lib.forecast(history) if history else None
    if fc is not None:
        for crossing in forecast_lib.soon(fc, now, w.forecast_alert_days):
            alerts.notify(
                f"forecast:core:{crossing.line}:{state.warnings}",
                f"📈 persys: core reaches {crossing.line}% around {crossing.at:%Y-%m-%d}",
                f"At the current growth ({fc.bytes_per_day / 1024 / 1024:+.2f} MB/day) the core "
                f"tier crosses {crossing.line}% in {crossing.days_from(now):.0f} days.")
    if ceil is not None:
        average_alert(alerts, ceil, now, w.forecast_alert_days)
    alerts.flush()  # alerts that failed on an earlier tick are retried here
    out.cursor = state.to_cursor()
    return out


def average_alert(alerts: Notifier, ceil: ceilings_lib.Ceilings, now: dt.datetime,
                  within_days: int) -> None:
    """Once per billing cycle: the cycle's average will pass the quota (HTTP 402) unless a
    move runs by a date under `within_days` away, or whatever moves now."""
    a = ceil.average
    if not a.over:
        return
    text = ceilings_lib.lines(ceil)[1]
    if a.unavoidable:
        alerts.notify(f"ceiling:average-over:{a.cycle.start}",
                      "🚨 persys: Supabase's billing average is over the free quota", text)
    elif a.move_by is not None and (a.move_by - now.date()).days < within_days:
        alerts.notify(f"ceiling:average:{a.cycle.start}",
                      f"📈 persys: move core by {a.move_by} to keep Supabase's billing "
                      "average under the quota", text)


def health_tick(ctx: HealthContext, main: PgTier, alerts: Notifier, now: dt.datetime | None = None
                ) -> list[str]:
    """Probe the endpoints that are due, open/resolve incidents, alert on each change."""
    now = now or dt.datetime.now(dt.UTC)
    endpoints = health.endpoints(ctx)
    if not endpoints:
        return []
    with main.connect() as conn:
        due = health.due(conn, endpoints, now)
        results = [health.check(ctx, e, at=now) for e in due]
        transitions = health.record(conn, results)
    for t in transitions:
        state = "recovered" if t.ok else "is down"
        alerts.notify(f"incident:{t.incident_id}:{'resolved' if t.ok else 'opened'}",
                      f"{'✅' if t.ok else '❌'} persys: {t.endpoint} {state}", t.detail)
    alerts.flush()
    return [f"{r.endpoint}: {'ok' if r.ok else 'FAIL'} {r.detail}" for r in results]

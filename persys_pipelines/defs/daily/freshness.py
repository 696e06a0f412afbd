"""Schedule `daily_freshness_alert`: yesterday's summary is checked every hour on its own.

The `summary_fresh` check only runs with the morning job; when that job never starts (machine
off, daemon down, schedule stopped) nobody would hear. This schedule applies the same rule
(lib/daily/summary.missing_due_day) each hour and alerts through the notifier, once per day
(the notifier's key is the day), without starting a run.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from ... import handles
from ...lib.daily import summary
from ...lib.monitoring import alerts
from ..resources import NotifierResource, PersysConfigResource


# A schedule needs a target; it names the morning job but never requests a run (the catch-up
# sensor does that), only alerts.
@dg.schedule(name="daily_freshness_alert", cron_schedule="5 * * * *",
             job_name="daily_morning_job",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Hourly: alerts (Telegram/e-mail) when yesterday's summary is still "
                         "missing after daily.freshness_hour; starts no run.")
def daily_freshness_alert(context: dg.ScheduleEvaluationContext,
                          persys_config: PersysConfigResource,
                          notifier: NotifierResource) -> dg.SkipReason:
    cfg = persys_config.load()
    now = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    due = summary.missing_due_day(handles.daily_handles(cfg), now)
    if due is None:
        return dg.SkipReason("summaries are fresh")
    deliveries = alerts.summary_missing(notifier.handle(), due, cfg.daily.freshness_hour,
                                        cfg.timezone)
    failed = sum(not d.ok for d in deliveries)
    return dg.SkipReason(f"alerted: no summary for {due}"
                         + (f" ({failed} delivery failed; retried later)" if failed else ""))

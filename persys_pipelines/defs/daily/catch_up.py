"""Sensor `daily_catch_up`: after downtime, one ranged run for every missed day.

The missed days come from the data (lib/daily/catch_up.py), so a machine that was off for a
week finds those days on its first tick. The request is one run over [first, last] missed day
(ranged, like a backfill; days in between that were fine are recomputed identically). Its run
key and the cursor are the missed days themselves, so the same state never asks twice.
"""

from __future__ import annotations

import hashlib

import dagster as dg

from ... import handles
from ...lib.daily import catch_up
from ..resources import PersysConfigResource
from ..tags import SEND_ONLY_LATEST_TAG, partition_range

CATCH_UP_JOB = "daily_catch_up_job"

# The daily group: summary, projection and (when defined) the voice briefing.
catch_up_job = dg.define_asset_job(
    CATCH_UP_JOB, selection=dg.AssetSelection.groups("daily"),
    description="Missed days after downtime (the daily_catch_up sensor): summaries, "
                "projections and briefings; only the latest briefing is sent.")


def state_key(days: list) -> str:
    """A short, stable name for a set of missed days (run key and cursor)."""
    text = ",".join(d.isoformat() for d in days)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"catch-up:{days[0]}..{days[-1]}:{len(days)}:{digest}"


@dg.sensor(name="daily_catch_up", job_name=CATCH_UP_JOB, minimum_interval_seconds=600,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="After downtime: one ranged run for the days (daily.catch_up_days "
                       "back) that have raw rows but no summary or projection.")
def daily_catch_up(context: dg.SensorEvaluationContext, persys_config: PersysConfigResource
                   ) -> dg.SensorResult | dg.SkipReason:
    days = catch_up.missing_days(handles.daily_handles(persys_config.load()))
    if not days:
        return dg.SkipReason("no missed days")
    key = state_key(days)
    if key == context.cursor:
        return dg.SkipReason(f"already requested {key}")
    first, last = days[0].isoformat(), days[-1].isoformat()
    request = dg.RunRequest(
        run_key=key,
        tags={**partition_range(first, last), SEND_ONLY_LATEST_TAG: "true"},
    )
    return dg.SensorResult(run_requests=[request], cursor=key)

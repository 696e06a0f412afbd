"""Every morning, half an hour after the summary run: yesterday's voice briefing."""

from __future__ import annotations

import dagster as dg

from ...lib.config import Config

MINUTES_AFTER_SUMMARY = 30


def voice_morning(cfg: Config) -> tuple[dg.UnresolvedAssetJobDefinition, dg.ScheduleDefinition]:
    job = dg.define_asset_job(
        "voice_briefing_job",
        selection=dg.AssetSelection.assets("voice_briefing"),
        description="Yesterday's voice briefing (the schedule), or any range (local voice).",
    )
    schedule = dg.build_schedule_from_partitioned_job(
        job,
        name="voice_briefing_schedule",
        hour_of_day=cfg.daily.morning_hour,
        minute_of_hour=MINUTES_AFTER_SUMMARY,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Every morning at {cfg.daily.morning_hour:02d}:{MINUTES_AFTER_SUMMARY} "
        f"{cfg.timezone}: yesterday's voice briefing, after the summaries.",
    )
    return job, schedule

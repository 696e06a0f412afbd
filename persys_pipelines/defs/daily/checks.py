"""Checks of daily_summary: yesterday's summary is there on time; stored numbers add up."""

import datetime as dt

import dagster as dg

from ... import handles
from ...lib.config import Config
from ...lib.daily import summary
from ..resources import PersysConfigResource

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def run_days(tags: dict[str, str], cfg: Config) -> tuple[dt.date, dt.date]:
    """The days the run materialized; a run without partitions checks the last window."""
    if RANGE_START in tags and RANGE_END in tags:
        return dt.date.fromisoformat(tags[RANGE_START]), dt.date.fromisoformat(tags[RANGE_END])
    if "dagster/partition" in tags:
        day = dt.date.fromisoformat(tags["dagster/partition"])
        return day, day
    last = cfg.today() - dt.timedelta(days=1)
    return last - dt.timedelta(days=cfg.daily.projection_window_days - 1), last


def summary_checks(cfg: Config) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset="daily_summary",
        name="summary_fresh",
        description=f"Yesterday's summary exists by {cfg.daily.freshness_hour:02d}:00 "
        f"{cfg.timezone} (daily.freshness_hour).",
    )
    def summary_fresh(persys_config: PersysConfigResource) -> dg.AssetCheckResult:
        cfg = persys_config.load()
        now = dt.datetime.now(dt.UTC)
        due = summary.due_day(cfg.daily, cfg.zone, now)
        if due < cfg.start_date:
            return dg.AssetCheckResult(passed=True, metadata={"due_day": "none yet"})
        ok = summary.missing_due_day(handles.daily_handles(cfg), now) is None
        return dg.AssetCheckResult(
            passed=ok, severity=dg.AssetCheckSeverity.WARN,
            description=None if ok else f"no summary for {due} yet: materialize partition {due}",
            metadata={"due_day": due.isoformat()},
        )

    @dg.asset_check(
        asset="daily_summary",
        name="summary_sane",
        description="No negative durations; per-day row counts and sums equal the raw rows "
        "(finds rows that arrived after a day was summarised).",
    )
    def summary_sane(
        context: dg.AssetCheckExecutionContext, persys_config: PersysConfigResource
    ) -> dg.AssetCheckResult:
        cfg = persys_config.load()
        first, last = run_days(dict(context.run.tags), cfg)
        problems = summary.verify(handles.daily_handles(cfg), first, last, missing_ok=True)
        return dg.AssetCheckResult(
            passed=not problems,
            description=None if not problems else
            f"{len(problems)} problem(s); re-materialize those days",
            metadata={"first_day": first.isoformat(), "last_day": last.isoformat(),
                      "problems": dg.JsonMetadataValue(problems[:50])},
        )

    return [summary_fresh, summary_sane]

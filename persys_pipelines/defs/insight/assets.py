"""`weekly_correlations`: weekly partitions, downstream of the daily summaries.

Each week (Monday to Sunday) tests every pair of the person's metrics over the 364 days ending
that Sunday (lib/insight/correlations.py: Spearman, same day and next day, Benjamini–Hochberg
over every pair of the week, q < 0.05). A ranged run computes its weeks in order, so each
week knows what the week before found (new findings are marked new).
"""

import datetime as dt
import json

import dagster as dg

from ... import handles
from ...lib.config import Config
from ...lib.daily import weekly
from ..partitions import weekly as weekly_partitions
from ..resources import PersysConfigResource, PostgresTierResource

WEEKLY_JOB = "weekly_insight_job"


def _found_table(found: list[dict]) -> dg.TableMetadataValue:
    columns = ("finding", "days", "rho", "q", "new")
    return dg.MetadataValue.table(
        [dg.TableRecord({"finding": f["text"], "days": f["n"], "rho": round(f["rho"], 2),
                         "q": round(f["q"], 4), "new": "yes" if f["new"] else ""})
         for f in found],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, "string" if c in ("finding", "new")
                                                      else "float") for c in columns]),
    )


def correlations_asset(cfg: Config) -> dg.AssetsDefinition:
    @dg.asset(
        name="weekly_correlations",
        group_name="insight",
        kinds={"python", "scipy"},
        partitions_def=weekly_partitions(cfg),
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[dg.AssetDep("daily_summary", partition_mapping=dg.TimeWindowPartitionMapping(
            allow_nonexistent_upstream_partitions=True))],
        description="Every pair of the person's metrics, same and next day: Spearman over 364 "
        "days (14+ paired days), Benjamini-Hochberg over the week's pairs, kept at q < 0.05, "
        "said in the person's units. Correlation, not cause. Rows in weekly_correlations.",
    )
    def weekly_correlations(context: dg.AssetExecutionContext,
                            persys_config: PersysConfigResource, core: PostgresTierResource,
                            main: PostgresTierResource) -> dg.MaterializeResult:
        hs = handles.daily_handles(persys_config.load(), core=core.handle(), main=main.handle())
        window = context.partition_time_window
        first = window.start.date()
        last_week_end = (window.end - dt.timedelta(days=1)).date()
        rows, previous = [], None
        before = weekly.latest(hs.reader, first - dt.timedelta(days=1))
        if before is not None:
            previous = before["found"]
        week_end = first + dt.timedelta(days=6)
        while week_end <= last_week_end:
            row = weekly.compute(hs, week_end, previous)
            rows.append(row)
            previous = json.loads(row[4])
            week_end += dt.timedelta(days=7)
        weekly.store(hs, first + dt.timedelta(days=6), last_week_end, rows)
        last = rows[-1]
        found = json.loads(last[4])
        return dg.MaterializeResult(metadata={
            "weeks": len(rows),
            "last_week": last[0].isoformat(),
            "metrics": last[2],
            "pairs_tested": last[3],
            "found": len(found),
            "new": sum(f["new"] for f in found),
            "correlations": _found_table(found),
            "text": dg.MarkdownMetadataValue(
                last[5] + "\n\n*Correlation, not cause: two things moving together may both "
                "follow a third.*"),
        })

    return weekly_correlations


def weekly_schedule(cfg: Config) -> tuple:
    """The weekly job and its Monday schedule (after the morning summary)."""
    job = dg.define_asset_job(WEEKLY_JOB, selection=dg.AssetSelection.assets(
        "weekly_correlations"), description="The week's correlations (the schedule), or any "
        "range of weeks.")
    schedule = dg.build_schedule_from_partitioned_job(
        job, name="weekly_insight_schedule", hour_of_day=cfg.daily.morning_hour,
        minute_of_hour=45, default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Mondays at {cfg.daily.morning_hour:02d}:45 {cfg.timezone}: last week's "
        "correlations, after the morning summary.")
    return job, schedule


def weeks_within(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date] | None:
    """The first and last Monday of the whole weeks (Monday-Sunday) inside [first, last]."""
    start = first + dt.timedelta(days=(7 - first.weekday()) % 7)
    end = last - dt.timedelta(days=(last.weekday() + 1) % 7)  # the last Sunday
    return (start, end - dt.timedelta(days=6)) if end >= start + dt.timedelta(days=6) else None


def backfill_weeks(cfg: Config, config_path: str | None, first: dt.date, last: dt.date):
    """The weekly correlations of every whole week in [first, last], as one ranged run;
    None when no whole week fits."""
    from ...definitions import build_definitions
    from ..runner import run_job

    weeks = weeks_within(max(first, weekly_partitions(cfg).start.date()), last)
    if weeks is None:
        return None
    return run_job(build_definitions(cfg, config_path), WEEKLY_JOB,
                   tags={"dagster/asset_partition_range_start": weeks[0].isoformat(),
                         "dagster/asset_partition_range_end": weeks[1].isoformat()})

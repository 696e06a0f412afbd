"""main→archive and purge from Python (`persys lifecycle run`, `persys demo`): the same Dagster
jobs the sensor and the weekly schedule start, run in this process and recorded in the
instance of DAGSTER_HOME (else an ephemeral one), acting as of the day given."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from ... import handles
from ...handles import resolve_tier
from ...lib.config import Config
from ...lib.moves import main_archive as archive
from .. import tags as run_tags
from ..partitions import monthly
from ..resources import resources
from ..runner import materializations, run_job
from .assets import JOB_NAME, archive_key
from .purge import JOB_NAME as PURGE_JOB


def due(cfg: Config, as_of: dt.date, tables: list[str],
        incoming: dict[str, dict[dt.date, int]] | None = None) -> dict[str, dict[dt.date, int]]:
    """Table → due month → rows in main (asked from main's data now); `incoming` (table → day
    → rows a core→main run has yet to move) counted as if it were there: a dry run's plan."""
    tier = resolve_tier(cfg, "main")
    return {t: archive.due_after_moves(tier, handles.spec(cfg, t), as_of,
                                       (incoming or {}).get(t, {}))
            for t in tables if cfg.tables[t].main_days is not None}


def range_tags(cfg: Config, months: list[dt.date], as_of: dt.date) -> dict[str, str]:
    """Monthly partition range covering `months`, clamped to the partitions (the first and last
    partitions stand for the months beyond them, see assets.window_months)."""
    parts = monthly(cfg)
    first_key, last_key = parts.get_first_partition_key(), parts.get_last_partition_key()
    start = min(max(min(months).isoformat(), first_key), last_key)
    end = max(min(max(months).isoformat(), last_key), start)
    return {**run_tags.partition_range(start, end), run_tags.AS_OF_TAG: as_of.isoformat(),
            **run_tags.lifecycle(run_tags.MAIN_TO_ARCHIVE)}


def run_archive(cfg: Config, config_path: str | None, as_of: dt.date,
                plan: dict[str, dict[dt.date, int]]) -> dict[str, dict]:
    """One ranged `archive_monthly` run for the tables with due months → table → metadata
    (months, files, rows, bytes, store, failover)."""
    tables = [t for t, months in plan.items() if months]
    if not tables:
        return {}
    months = [m for t in tables for m in plan[t]]
    result = _execute(cfg, config_path, JOB_NAME, range_tags(cfg, months, as_of),
                      [archive_key(t) for t in tables])
    return materializations(result)


def run_purge(cfg: Config, config_path: str | None, as_of: dt.date) -> dict[str, dict]:
    """The `archive_purge` job as of `as_of` → table → {files, rows, bytes} deleted."""
    result = _execute(cfg, config_path, PURGE_JOB,
                      {run_tags.AS_OF_TAG: as_of.isoformat(), **run_tags.lifecycle(run_tags.PURGE)},
                      None)
    for event in result.all_events:
        if event.is_successful_output:
            meta = event.event_specific_data.metadata
            return meta["tables"].value if "tables" in meta else {}
    return {}


def _execute(cfg: Config, config_path: str | None, job_name: str, tags: dict[str, str],
             selection: list[dg.AssetKey] | None) -> dg.ExecuteInProcessResult:
    from . import definitions

    defs = dg.Definitions.merge(definitions(cfg), dg.Definitions(resources=resources(config_path)))
    return run_job(defs, job_name, tags=tags, selection=selection)

"""The one DAILY, WEEKLY and MONTHLY partitions objects every asset shares (from persys.yaml)."""

from __future__ import annotations

import datetime as dt
from functools import cache

import dagster as dg

from ..lib.config import Config


@cache
def _daily(start: str, zone: str) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start, timezone=zone)


@cache
def _monthly(start: str, zone: str) -> dg.MonthlyPartitionsDefinition:
    return dg.MonthlyPartitionsDefinition(start_date=start, timezone=zone)


@cache
def _weekly(start: str, zone: str) -> dg.WeeklyPartitionsDefinition:
    return dg.WeeklyPartitionsDefinition(start_date=start, timezone=zone, day_offset=1)


def weekly(cfg: Config) -> dg.WeeklyPartitionsDefinition:
    """Weeks Monday to Sunday (the weekly correlations), from the first Monday on start_date."""
    start = cfg.start_date + dt.timedelta(days=(7 - cfg.start_date.weekday()) % 7)
    return _weekly(start.isoformat(), cfg.timezone)


def daily(cfg: Config) -> dg.DailyPartitionsDefinition:
    return _daily(cfg.start_date.isoformat(), cfg.timezone)


def monthly(cfg: Config) -> dg.MonthlyPartitionsDefinition:
    return _monthly(cfg.start_date.replace(day=1).isoformat(), cfg.timezone)


def window_days(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) of a daily run's partition range."""
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


def open_ends(context: dg.AssetExecutionContext, partitions: dg.PartitionsDefinition,
              first: dt.date, last: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """`first`/`last`, or None where the run touches the first/last partition: those stand for
    every older (newer) day too, e.g. rows from before start_date."""
    keys = context.partition_key_range
    return (None if keys.start == partitions.get_first_partition_key() else first,
            None if keys.end == partitions.get_last_partition_key() else last)

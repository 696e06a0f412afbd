"""The one DAILY and one MONTHLY partitions object every asset shares (from persys.yaml)."""

from __future__ import annotations

from functools import cache

import dagster as dg

from ..lib.config import Config


@cache
def _daily(start: str, zone: str) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start, timezone=zone)


@cache
def _monthly(start: str, zone: str) -> dg.MonthlyPartitionsDefinition:
    return dg.MonthlyPartitionsDefinition(start_date=start, timezone=zone)


def daily(cfg: Config) -> dg.DailyPartitionsDefinition:
    return _daily(cfg.start_date.isoformat(), cfg.timezone)


def monthly(cfg: Config) -> dg.MonthlyPartitionsDefinition:
    return _monthly(cfg.start_date.replace(day=1).isoformat(), cfg.timezone)

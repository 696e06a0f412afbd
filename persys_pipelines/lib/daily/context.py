"""What the daily summaries, projections and correlations are given: the handles, not persys.yaml.

Built once per run or command by handles.daily_handles (the config boundary); lib/daily reads
rows through `reader`, writes a day range through `core`, `main` and the archive `targets`
(summary.store_days), and takes its settings from the `daily:` section.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..config import TablePolicy
from ..config.daily import Daily
from ..pg.tiers import PgTier
from ..tiering.reader import TieredReader

if TYPE_CHECKING:
    from ..moves.target import ArchiveTarget


@dataclass(frozen=True)
class DailyHandles:
    """The tiers (through the cross-tier reader), the archive targets a rewrite of archived days
    goes to, the `daily:` settings, the first day anything is summarised (`start_date`) and
    where charts are saved."""

    reader: TieredReader
    settings: Daily
    start_date: dt.date
    charts_dir: Path
    targets: tuple[ArchiveTarget, ...] = ()

    @property
    def core(self) -> PgTier:
        return self.reader.core

    @property
    def main(self) -> PgTier:
        return self.reader.main

    @property
    def tables(self) -> Mapping[str, TablePolicy]:
        return self.reader.tables

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.reader.zone)

    def today(self) -> dt.date:
        """Today in the configured zone (what `Config.today` says)."""
        return dt.datetime.now(self.zone).date()

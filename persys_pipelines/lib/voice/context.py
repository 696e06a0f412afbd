"""What a day's briefing is given: the handles, not persys.yaml (built by handles.voice_handles).

The briefing reads the day through the daily handles (summary, projection, correlations),
stores audio in the voice store, records it in core or main (records.py), and speaks and sends
by the `voice:` and `telegram:` settings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..archive.stores import Store
from ..config import Telegram, Voice
from ..daily.context import DailyHandles
from ..pg.tiers import PgTier

Deletion = tuple[str, str, str, dt.date]


@dataclass(frozen=True)
class VoiceHandles:
    """The daily handles (tiers, reader, `daily:` settings), the store the audio goes to
    (`voice.store_url`, default `file://<home>`), and the `voice:` and `telegram:` sections."""

    daily: DailyHandles
    settings: Voice
    store: Store
    telegram: Telegram
    # archived days retention deletes soon, as of a day: (table, first day, last day, the day
    # the purge may delete them); None: not looked up (a briefing without the archive)
    deletions: Callable[[dt.date], Sequence[Deletion]] | None = None

    @property
    def tiers(self) -> tuple[PgTier, PgTier]:
        """Core, then main: where `voice_messages` rows live (records.py)."""
        return (self.daily.core, self.daily.main)

    def today(self) -> dt.date:
        return self.daily.today()

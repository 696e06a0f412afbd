"""Voice wiring: the `voice_briefing` asset and its morning schedule."""

from __future__ import annotations

import dagster as dg

from ...lib.config import Config
from .assets import voice_briefing_asset
from .schedules import voice_morning


def definitions(cfg: Config) -> dg.Definitions:
    job, schedule = voice_morning(cfg)
    return dg.Definitions(assets=[voice_briefing_asset(cfg)], jobs=[job], schedules=[schedule])

"""Lifecycle wiring: core tables as observable sources (moves land with the lifecycle issue)."""

from __future__ import annotations

import dagster as dg

from ...lib.config import Config
from .sources import core_sources


def definitions(cfg: Config) -> dg.Definitions:
    return dg.Definitions(assets=core_sources(cfg))

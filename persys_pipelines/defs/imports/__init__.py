"""Import wiring: one asset per kind of export (`imports/<kind>`), its job, and the inbox
sensor that starts one run per new file. The work itself is in lib/imports/."""

from __future__ import annotations

import dagster as dg

from ...lib.config import Config
from .assets import import_assets, import_job
from .sensors import inbox_sensor


def definitions(cfg: Config) -> dg.Definitions:
    job = import_job()
    return dg.Definitions(assets=import_assets(cfg), jobs=[job], sensors=[inbox_sensor(cfg, job)])

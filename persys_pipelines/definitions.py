"""The one entry point: persys.yaml → each concern's Definitions, merged explicitly."""

from __future__ import annotations

import warnings

import dagster as dg

from .defs import archive, backup, daily, imports, lifecycle, monitoring, voice
from .defs.resources import resources
from .lib.config import Config, find_config_path, load_config

# observable_source_asset and friends are marked beta; the warning says nothing to a user.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def build_definitions(cfg: Config, config_path: str | None = None) -> dg.Definitions:
    lifecycle_defs = lifecycle.definitions(cfg)
    return dg.Definitions.merge(
        lifecycle_defs,
        daily.definitions(cfg),
        archive.definitions(cfg),
        backup.definitions(cfg),
        voice.definitions(cfg),
        imports.definitions(cfg),
        monitoring.definitions(cfg, monitoring.emergency_job(lifecycle_defs)),
        dg.Definitions(resources=resources(config_path)),
    )


def _load() -> dg.Definitions:
    path = find_config_path()
    return build_definitions(load_config(path), str(path.resolve()) if path else None)


defs = _load()

"""The one entry point: persys.yaml → each concern's Definitions, merged explicitly."""

from __future__ import annotations

import warnings

import dagster as dg

from .defs import (
    archive,
    backup,
    daily,
    deploy,
    housekeeping,
    imports,
    insight,
    lifecycle,
    monitoring,
    voice,
)
from .defs.monitoring import rare
from .defs.resources import resources
from .lib.config import Config, find_config_path, load_config
from .lib.household.person import activate_from_environment

# observable_source_asset and friends are marked beta; the warning says nothing to a user.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def build_definitions(cfg: Config, config_path: str | None = None) -> dg.Definitions:
    lifecycle_defs = lifecycle.definitions(cfg)
    return dg.Definitions.merge(
        lifecycle_defs,
        daily.definitions(cfg),
        insight.definitions(cfg),
        archive.definitions(cfg),
        backup.definitions(cfg),
        voice.definitions(cfg),
        housekeeping.definitions(cfg),
        imports.definitions(cfg),
        monitoring.definitions(cfg, monitoring.emergency_job(lifecycle_defs)),
        deploy.definitions(cfg),  # followed repositories (notifications.repositories)
        rare.definitions(cfg),  # rare alerts, when SMS is configured
        dg.Definitions(resources=resources(config_path)),
    )


def _load() -> dg.Definitions:
    # a household's person (PERSYS_HOUSEHOLD, PERSYS_PERSON): their persys.yaml and secrets
    path = activate_from_environment() or find_config_path()
    return build_definitions(load_config(path), str(path.resolve()) if path else None)


defs = _load()

"""ConfigurableResources: persys.yaml and the PostgreSQL tiers, for every asset to share."""

from __future__ import annotations

import dagster as dg

from ..lib.config import Config, load_config
from ..lib.pg.tiers import PgTier, resolve_tier


class PersysConfigResource(dg.ConfigurableResource):
    """persys.yaml as loaded at run time (path from PERSYS_CONFIG unless given)."""

    config_path: str | None = None

    def load(self) -> Config:
        return load_config(self.config_path)


class PostgresTierResource(dg.ConfigurableResource):
    """One PostgreSQL tier (core or main): the embedded server or the configured dsn."""

    tier: str
    config_path: str | None = None

    def handle(self) -> PgTier:
        return resolve_tier(load_config(self.config_path), self.tier)


def resources(config_path: str | None = None) -> dict[str, dg.ConfigurableResource]:
    return {
        "persys_config": PersysConfigResource(config_path=config_path),
        "core": PostgresTierResource(tier="core", config_path=config_path),
        "main": PostgresTierResource(tier="main", config_path=config_path),
    }

"""ConfigurableResources: one per thing the pipelines touch.

Every resource is configured by the path of persys.yaml only, so no DSN, key or token ever
reaches the Dagster UI; each resolves its handle once per run (cached on the instance, reset by
`setup_for_execution`) and the asset hands that handle to `lib/`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from ..handles import archive_stores, keyring, resolve_tier
from ..handles_monitoring import cost_sources, notifier
from ..lib.archive.crypto import Keyring
from ..lib.archive.stores import ArchiveStores
from ..lib.config import Config, load_config
from ..lib.monitoring.costs import CostReader
from ..lib.monitoring.notify import Notifier
from ..lib.pg.tiers import PgTier
from ..lib.voice.tts_elevenlabs import ElevenLabsEngine


class _PersysResource(dg.ConfigurableResource):
    """Base: persys.yaml (PERSYS_CONFIG unless `config_path`) and a per-run handle cache."""

    config_path: str | None = None
    _cached: dict[str, Any] = PrivateAttr(default_factory=dict)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._cached = {}  # a new run sees persys.yaml (and the stores' health) afresh

    def _once(self, name: str, make: Any) -> Any:
        if name not in self._cached:
            self._cached[name] = make()
        return self._cached[name]

    def config(self) -> Config:
        return self._once("config", lambda: load_config(self.config_path))


class PersysConfigResource(_PersysResource):
    """persys.yaml as loaded at run time, for the settings (not the connections) assets read."""

    def load(self) -> Config:
        return load_config(self.config_path)


class PostgresTierResource(_PersysResource):
    """One PostgreSQL tier (core or main): the embedded server or the configured dsn."""

    tier: str

    def handle(self) -> PgTier:
        return self._once("tier", lambda: resolve_tier(self.config(), self.tier))


class ArchiveStoresResource(_PersysResource):
    """The archive stores (primary, optional secondary) and the keyring their files use."""

    def handle(self, *, down: str | None = None) -> ArchiveStores:
        """Opened and checked once per run; `down` is the health sensor's open incident."""
        return self._once("stores", lambda: archive_stores(self.config(), down=down))

    def keyring(self) -> Keyring:
        return self._once("keyring", lambda: keyring(self.config()))


class VoiceEngineResource(_PersysResource):
    """The paid voice (ElevenLabs); None when persys.yaml picks the local voice or has no key,
    so the briefing falls back exactly as before (and names the missing key when it needs it)."""

    def handle(self) -> ElevenLabsEngine | None:
        def make() -> ElevenLabsEngine | None:
            v = self.config().voice
            if v.engine != "elevenlabs" or v.elevenlabs.api_key is None:
                return None
            return ElevenLabsEngine(v.elevenlabs, budget=v.monthly_character_budget)
        return self._once("engine", make)


class NotifierResource(_PersysResource):
    """The alert sender (`notify:` channels, outbox in main)."""

    def handle(self) -> Notifier:
        return self._once("notifier", lambda: notifier(self.config()))


class CostReaderResource(_PersysResource):
    """The cost sources (Supabase, ElevenLabs, object store, AWS) read by free_tier_usage."""

    def handle(self) -> CostReader:
        return self._once("costs", lambda: CostReader(cost_sources(self.config())))


def resources(config_path: str | None = None, *,
              progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Every resource; `progress` (rows just moved) is the CLI's progress bar, handed to the
    move engine by the assets that move rows (None under the daemon)."""
    return {
        "progress": dg.ResourceDefinition.hardcoded_resource(progress),
        "persys_config": PersysConfigResource(config_path=config_path),
        "core": PostgresTierResource(tier="core", config_path=config_path),
        "main": PostgresTierResource(tier="main", config_path=config_path),
        "archive_stores": ArchiveStoresResource(config_path=config_path),
        "voice_engine": VoiceEngineResource(config_path=config_path),
        "notifier": NotifierResource(config_path=config_path),
        "cost_reader": CostReaderResource(config_path=config_path),
    }

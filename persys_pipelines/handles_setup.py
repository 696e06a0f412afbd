"""The config boundary of `persys setup` (lib/provision.py): persys.yaml → the tiers, stores
and table policies setup works on, and the home's backup key. handles.py re-exports these.
"""

from __future__ import annotations

import datetime as dt

from .handles_stores import (
    archive_stores,
    backup_key_path,
    ensure_backup_key,
    resolve_tier,
    resolve_tiers,
)
from .lib import provision
from .lib.config import Config


def setup_tiers(cfg: Config, *, sample_data: bool = False) -> dict[str, list[str]]:
    """Create what the project needs in core and main, and the sample tables asked for
    (lib/provision.py); then the home's backup key when no key is configured."""
    tiers = resolve_tiers(cfg)
    created = provision.setup_tiers(tiers["core"], tiers["main"], list(cfg.tables),
                                    sample_data=sample_data)
    ensure_backup_key(cfg)
    return created


def load_sample_data(cfg: Config, *, days: int, seed: int,
                     as_of: dt.date | None = None) -> dict[str, int]:
    """Sample rows into core (lib/provision.load_sample_data), up to `as_of` (default: today
    in the configured zone)."""
    tiers = resolve_tiers(cfg)
    return provision.load_sample_data(tiers["core"], tiers["main"], cfg.tables, cfg.timezone,
                                      days=days, seed=seed, as_of=as_of or cfg.today())


def mark_archive_stores(cfg: Config) -> list[str]:
    """The archive marker in each configured store that has none (lib/provision.py)."""
    return provision.mark_archive_stores(archive_stores(cfg, check=False),
                                         resolve_tier(cfg, "main"))


def backup_key_note(cfg: Config) -> str:
    """Where the key that encrypts backups is, and what the person must do about it."""
    return provision.backup_key_note(bool(cfg.tiers.archive.encryption_keys),
                                     backup_key_path(cfg))

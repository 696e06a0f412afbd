"""The config boundary for the tiers, the archive stores and the keys: persys.yaml's `tiers:`
section → PgTier, ArchiveStores, Keyring, the backup key. handles.py re-exports these; lib/
gets the handles (lib/pg/tiers.tier_handle and lib/archive/stores.open_url/open_stores are
the section-level pieces they are built from).
"""

from __future__ import annotations

from pathlib import Path

from .lib.archive import stores as stores_lib
from .lib.archive.crypto import Keyring
from .lib.archive.stores import ArchiveStores, Store
from .lib.config import Config
from .lib.pg.tiers import TIER_DATABASES, PgTier, tier_handle


def resolve_tier(cfg: Config, name: str) -> PgTier:
    """The tier's handle; an embedded tier starts the server and creates its database."""
    return tier_handle(name, getattr(cfg.tiers, name), cfg.home)


def resolve_tiers(cfg: Config) -> dict[str, PgTier]:
    """Core and main, in that order."""
    return {name: resolve_tier(cfg, name) for name in TIER_DATABASES}


def open_configured(cfg: Config, url: str) -> Store:
    """The store at `url` with tiers.archive's credentials and endpoint."""
    return stores_lib.open_url(cfg.tiers.archive, url)


def archive_stores(cfg: Config, *, check: bool = True, down: str | None = None) -> ArchiveStores:
    """Open the stores; when the primary fails its check, new files go to the secondary.

    `down`: why the caller already knows the primary is down (the health sensor's open
    incident); the archive then fails over without waiting for its own probe to time out."""
    primary = open_configured(cfg, cfg.archive_url)
    secondary_url = cfg.tiers.archive.secondary_url
    secondary = open_configured(cfg, secondary_url) if secondary_url else None
    return stores_lib.open_stores(primary, secondary, check=check, down=down)


def backup_store(cfg: Config, *, check: bool = True) -> Store:
    """Where backups go: `tiers.archive.backup_url`, else the archive's active store."""
    url = cfg.tiers.archive.backup_url
    return open_configured(cfg, url) if url else archive_stores(cfg, check=check).active


def keyring(cfg: Config) -> Keyring:
    """The archive's keys (tiers.archive.encryption_key: one or a list, the last encrypts)."""
    return Keyring.from_texts(cfg.tiers.archive.encryption_keys)


def backup_key_path(cfg: Config) -> Path:
    """The home's own backup key (used when no encryption key is configured)."""
    return stores_lib.backup_key_path(cfg.home)


def backup_keyring(cfg: Config) -> Keyring:
    """Backups are always encrypted: the configured keys, else the home's own key (`persys
    setup` creates it; the person must keep a copy of it elsewhere)."""
    if cfg.tiers.archive.encryption_keys:
        return keyring(cfg)
    return stores_lib.home_keyring(backup_key_path(cfg))


def ensure_backup_key(cfg: Config) -> Path | None:
    """Create the home's backup key (mode 0600) when no key is configured and none exists;
    returns its path when it was created now."""
    if cfg.tiers.archive.encryption_keys:
        return None
    path = backup_key_path(cfg)
    if not path.exists():
        _refuse_a_new_key_over_old_backups(cfg, path)
    return stores_lib.ensure_backup_key(path)


def _refuse_a_new_key_over_old_backups(cfg: Config, path: Path) -> None:
    """The key file is gone but backups made with it are there: a new key would look like
    it worked and leave every one of them unreadable."""
    from .lib.errors import UsageError

    try:
        store = backup_store(cfg, check=False)
        made = next(iter(store.list(".persys/backups/")), None)
    except Exception:  # an unreachable store: doctor says so; the key is made as before
        return
    if made is not None:
        raise UsageError(
            f"the backup key {path} is missing, and backups made with it are in {store.url} "
            f"(.persys/backups/): put back the copy of {path.name} you kept. A new key cannot "
            "read them; to start again without them, move .persys/backups/ aside first")

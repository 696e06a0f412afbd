"""Where a route writes and reads archive files: one store, the keyring, the zstd level."""

from __future__ import annotations

from dataclasses import dataclass

from ..archive.crypto import Keyring
from ..archive.stores import Store


@dataclass(frozen=True)
class ArchiveTarget:
    store: Store
    ring: Keyring
    level: int = 3  # zstd level of new Parquet files (tiers.archive.compression_level)

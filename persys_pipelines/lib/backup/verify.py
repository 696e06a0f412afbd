"""Verify a backup (read only): every table file downloads, decrypts, matches its sha256 and
row count. Restoring one is a route of the move engine (lib/moves/backup_restore.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..archive import format as fmt
from ..archive.crypto import CryptoError, Keyring
from ..archive.manifest import sha256
from ..archive.stores import Store, StoreError
from .snapshot import Backup, BackupError


@dataclass
class VerifyResult:
    backup: Backup
    checked: list[str] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)  # (table, why)

    @property
    def ok(self) -> bool:
        return not self.bad


def load_table(store: Store, ring: Keyring, entry: dict) -> bytes:
    """The plain Parquet bytes of one backed-up table, proven by its sha256."""
    plain, _ = ring.decrypt(store.get(entry["key"]), entry["key"])
    if sha256(plain) != entry["sha256"]:
        raise BackupError(f"{store.uri(entry['key'])}: sha256 differs from the manifest's: "
                          "the file is damaged")
    return plain


def verify(store: Store, ring: Keyring, backup: Backup) -> VerifyResult:
    """Download, decrypt, check sha256 and row count of every table of the backup."""
    result = VerifyResult(backup)
    for table, entry in backup.manifest["tables"].items():
        try:
            rows = fmt.read_parquet(load_table(store, ring, entry), use_threads=False).num_rows
        except (BackupError, CryptoError, StoreError) as exc:
            result.bad.append((table, str(exc)))
            continue
        if rows != entry["rows"]:
            result.bad.append((table, f"{rows} rows, the manifest says {entry['rows']}"))
        else:
            result.checked.append(table)
    return result

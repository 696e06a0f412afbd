"""Key rotation: every archive file and every backup file not under the newest key is
encrypted again under it, so the older keys can then be dropped from persys.yaml.

A file keeps its key (its name is the sha256 of its plain bytes) and is replaced whole by the
store (temp + rename, or one S3 object); its manifest entry's key id follows. A run killed
between the two leaves a file the keyring still opens (the key id travels in the file's own
header): the next run finds it under the newest key and only fixes the manifest.
"""

from __future__ import annotations

import json
from dataclasses import replace

from ..archive.maintenance import tables_in
from ..archive.manifest import load_file, read_manifest, write_manifest
from ..backup import snapshot
from ..errors import ArchiveError
from .engine import Engine, route
from .target import ArchiveTarget

REKEY = route("rekey", "archive", "archive", points=("after_put", "after_manifest"))
BACKUPS = ".persys-backups"  # the ledger's table name for a store's backups


def rekey(engine: Engine, targets: list[ArchiveTarget], tables: list[str]) -> list[str]:
    """Re-encrypt every archive and backup file not under the newest key (plain files too);
    returns their URIs."""
    done: list[str] = []
    for target in targets:
        if not target.ring:
            raise ArchiveError("tiers.archive.encryption_key is not set: nothing to encrypt "
                               "with")
        target.store.check()
        for table in tables_in(target.store, tables):
            with engine.locked(table) as locked:
                step = locked.open(REKEY, None, None, store=target.store.url)
                keys = _rekey_table(target, table)
                step.done(rows=len(keys), keys=keys)
                done += [target.store.uri(k) for k in keys]
        with engine.locked(BACKUPS) as locked:
            step = locked.open(REKEY, None, None, store=target.store.url)
            keys = _rekey_backups(target)
            step.done(rows=len(keys), keys=keys)
            done += [target.store.uri(k) for k in keys]
    return done


def _rekey_table(target: ArchiveTarget, table: str) -> list[str]:
    manifest = read_manifest(target.store, table)
    changed: list[str] = []
    newest = target.ring.newest.id
    for entry in list(manifest.files):
        if entry.key_id == newest:
            continue
        plain, found = load_file(target.store, target.ring, entry)
        if found != newest:
            stored, key_id = target.ring.encrypt(plain, entry.key)
            target.store.put(entry.key, stored)  # same content, same key: only the lock
            REKEY.crash("after_put")
        else:
            key_id, stored = found, target.store.get(entry.key)
        manifest.put(replace(entry, key_id=key_id, bytes=len(stored)))
        changed.append(entry.key)
    if changed:
        write_manifest(target.store, manifest)
        REKEY.crash("after_manifest")
    return changed


def _rekey_backups(target: ArchiveTarget) -> list[str]:
    """Every finished backup's files, then its manifest's key id."""
    changed: list[str] = []
    newest = target.ring.newest.id
    for backup in snapshot.list_backups(target.store):
        doc = backup.manifest
        if doc.get("key_id") == newest:
            continue
        for entry in doc["tables"].values():
            plain, found = target.ring.decrypt(target.store.get(entry["key"]), entry["key"])
            if found != newest:
                stored, _ = target.ring.encrypt(plain, entry["key"])
                target.store.put(entry["key"], stored)
                entry["bytes"] = len(stored)
                REKEY.crash("after_put")
            changed.append(entry["key"])
        doc["key_id"] = newest
        target.store.put(backup.manifest_key, json.dumps(doc, indent=1).encode())
    return changed

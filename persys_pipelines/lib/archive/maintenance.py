"""What a person does with the archive: verify, purge, rekey, and see what it holds (restore
is in restore.py).

Every writer here takes the table's archive lock and keeps the same order as archiving (file
before manifest entry, manifest before deleting a file), so `archive.reconcile` can always
repair an interrupted run.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from ..config import Config
from ..errors import ArchiveError
from ..lazy import lazy_module
from ..pg.protocol import table_lock
from ..pg.schema import create_ledger
from ..pg.tiers import resolve_tier
from . import format as fmt
from .crypto import CryptoError
from .manifest import (
    committed,
    ledger_finish,
    ledger_start,
    load_file,
    read_manifest,
    write_manifest,
)
from .stores import ArchiveStores, Store, StoreError, archive_stores, keyring

pa = lazy_module("pyarrow")

# ---------------------------------------------------------------------------------------------
# Verify


@dataclass
class VerifyReport:
    checked: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)  # (uri, why)
    missing: list[str] = field(default_factory=list)  # in a manifest, not in the store
    orphans: list[str] = field(default_factory=list)  # in the store, in no manifest
    pending: list[str] = field(default_factory=list)  # from an interrupted run, repaired next run
    unreachable: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.bad or self.missing or self.unreachable)


def tables_in(store: Store, cfg: Config) -> list[str]:
    """Configured tables plus any other table the store holds a manifest for."""
    found = {o.key.split("/")[0] for o in store.list() if o.key.endswith("/manifest.json")}
    return sorted(set(cfg.tables) | found)


def verify(cfg: Config, sample_pct: float = 100.0, *, seed: int | None = None,
           stores: ArchiveStores | None = None) -> VerifyReport:
    """Download, decrypt and check sha256 and row count of every (or a sampled share of) file.

    Only reads: a read-only store (a mounted backup, a bucket with read-only keys) verifies."""
    stores = stores or archive_stores(cfg, check=False)
    ring = keyring(cfg)
    rng = random.Random(seed)
    report = VerifyReport()
    for store in stores.all:
        try:
            store.check_readable()
            tables = tables_in(store, cfg)
        except StoreError as exc:
            report.unreachable.append((store.url, str(exc)))
            continue
        for table in tables:
            doc = read_manifest(store, table)
            entries = doc["files"]
            report.pending += [store.uri(e["key"]) for e in entries if e.get("state") == "pending"]
            named = {e["key"] for e in entries}
            present = {o.key for o in store.list(f"{table}/") if o.key.endswith(".parquet")}
            report.orphans += [store.uri(k) for k in sorted(present - named)]
            report.missing += [store.uri(e["key"]) for e in entries if e["key"] not in present]
            chosen = [e for e in entries if e["key"] in present]
            if sample_pct < 100:
                chosen = rng.sample(chosen, math.ceil(len(chosen) * sample_pct / 100))
            for entry in chosen:
                report.checked += 1
                problem = check_file(store, ring, entry)
                if problem:
                    report.bad.append((store.uri(entry["key"]), problem))
    return report


def check_file(store: Store, ring, entry: dict) -> str | None:
    """None when the file is intact, else why not (the asset check uses the same test)."""
    try:
        plain, _ = load_file(store, ring, entry)
        # one file at a time: Arrow's thread pool would add nothing but threads alive at exit
        rows = fmt.read_parquet(plain, use_threads=False).num_rows
    except (ArchiveError, CryptoError, StoreError) as exc:
        return str(exc)
    except (pa.ArrowException, OSError) as exc:
        return f"not a readable Parquet file ({exc})"
    if rows != entry["rows"]:
        return f"holds {rows} rows, the manifest says {entry['rows']}"
    return None


# ---------------------------------------------------------------------------------------------
# Purge


@dataclass(frozen=True)
class PurgeItem:
    table: str
    store: str
    key: str
    rows: int
    bytes: int
    max_day: str


def purge(cfg: Config, as_of: dt.date | None = None, *, dry_run: bool = False,
          run_id: str | None = None) -> list[PurgeItem]:
    """Delete archive files whose newest day is older than the table's `delete_days`."""
    as_of = as_of or cfg.today()
    tier = resolve_tier(cfg, "main")
    stores = archive_stores(cfg, check=False)
    items: list[PurgeItem] = []
    for table, policy in cfg.tables.items():
        if policy.delete_days is None:
            continue
        cutoff = (as_of - dt.timedelta(days=policy.delete_days)).isoformat()
        for store in stores.all:
            try:
                store.check()
            except StoreError:
                continue  # a store that is down is purged on a later run
            with table_lock(tier, table) if not dry_run else _nolock():
                doc = read_manifest(store, table)
                old = [e for e in committed(doc) if e["max_day"] < cutoff]
                items += [PurgeItem(table, store.url, store.uri(e["key"]), e["rows"], e["bytes"],
                                    e["max_day"]) for e in old]
                if dry_run or not old:
                    continue
                doc["files"] = [e for e in doc["files"] if e not in old]
                write_manifest(store, table, doc)
                for e in old:
                    store.delete(e["key"])
                with tier.connect() as conn:
                    create_ledger(conn)
                    lid = ledger_start(conn, table, min(dt.date.fromisoformat(e["min_day"])
                                                        for e in old),
                                       max(dt.date.fromisoformat(e["max_day"]) for e in old),
                                       "archive", "deleted", run_id)
                    ledger_finish(conn, lid, rows=sum(e["rows"] for e in old),
                                  size=sum(e["bytes"] for e in old), checksum=None,
                                  detail={"store": store.url, "keys": [e["key"] for e in old]})
                    conn.commit()
    return items


class _nolock:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------------------------------------
# Rekey


def rekey(cfg: Config) -> list[str]:
    """Re-encrypt every file not under the newest key (plain files too); returns their URIs."""
    ring = keyring(cfg)
    if not ring:
        raise ArchiveError("tiers.archive.encryption_key is not set: nothing to encrypt with")
    tier = resolve_tier(cfg, "main")
    done: list[str] = []
    for store in archive_stores(cfg, check=False).all:
        store.check()
        for table in tables_in(store, cfg):
            with table_lock(tier, table):
                doc = read_manifest(store, table)
                changed = False
                for entry in doc["files"]:
                    if entry.get("key_id") == ring.newest.id:
                        continue
                    plain, _ = load_file(store, ring, entry)
                    stored, key_id = ring.encrypt(plain, entry["key"])
                    store.put(entry["key"], stored)  # same content, same key: only the lock
                    entry.update(key_id=key_id, bytes=len(stored))
                    changed = True
                    done.append(store.uri(entry["key"]))
                if changed:
                    write_manifest(store, table, doc)
    return done


# ---------------------------------------------------------------------------------------------
# Inventory (for `persys status`)


def inventory(cfg: Config) -> dict:
    """Per store: reachable, files, bytes; per table: rows, days, files, bytes and stores."""
    stores = archive_stores(cfg, check=False)
    out: dict = {"url": stores.primary.url, "bytes": 0, "files": 0, "stores": [], "tables": {}}
    for store in stores.all:
        info = {"url": store.url, "role": stores.role(store), "reachable": True, "files": 0,
                "bytes": 0, "error": None}
        out["stores"].append(info)
        try:
            store.check()
            tables = tables_in(store, cfg)
        except StoreError as exc:
            info.update(reachable=False, error=str(exc))
            continue
        for table in tables:
            entries = committed(read_manifest(store, table))
            if not entries:
                continue
            t = out["tables"].setdefault(table, {"rows": 0, "first_day": None, "last_day": None,
                                                 "null_day_rows": 0, "files": 0, "bytes": 0,
                                                 "stores": []})
            t["rows"] += sum(e["rows"] for e in entries)
            t["files"] += len(entries)
            t["bytes"] += sum(e["bytes"] for e in entries)
            firsts = [e["min_day"] for e in entries] + [t["first_day"] or "9999"]
            lasts = [e["max_day"] for e in entries] + [t["last_day"] or "0000"]
            t["first_day"], t["last_day"] = min(firsts), max(lasts)
            t["stores"].append(store.url)
            info["files"] += len(entries)
            info["bytes"] += sum(e["bytes"] for e in entries)
        out["files"] += info["files"]
        out["bytes"] += info["bytes"]
    return out


def manifest_rows(cfg: Config, table: str) -> list[tuple[Store, dict]]:
    """Committed entries of a table in every reachable store (for readers)."""
    found = []
    for store in archive_stores(cfg, check=False).all:
        try:
            doc = read_manifest(store, table)
        except StoreError:
            continue
        found += [(store, e) for e in committed(doc)]
    return found

"""What the archive holds, read only: verify its files, list what it holds (`persys status`).

Writers (archive, restore, purge, rekey, repair) are routes of the move engine (lib/moves);
nothing here changes a file or a manifest.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

from ..errors import ArchiveError
from ..lazy import lazy_module
from . import format as fmt
from .crypto import CryptoError, Keyring
from .manifest import MANIFEST, FileEntry, ManifestUnreadable, load_file, read_manifest
from .stores import ArchiveStores, Store, StoreError

pa = lazy_module("pyarrow")
_FILE = re.compile(r"^(?P<table>[^/.][^/]*)/\d{4}/\d{2}/[0-9a-f]{64}\.parquet$")


@dataclass
class VerifyReport:
    checked: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)  # (uri, why)
    missing: list[str] = field(default_factory=list)  # in a manifest, not in the store
    orphans: list[str] = field(default_factory=list)  # in the store, in no manifest
    pending: list[str] = field(default_factory=list)  # from an interrupted run, repaired next run
    unreachable: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # manifests to rebuild (repair)

    @property
    def ok(self) -> bool:
        return not (self.bad or self.missing or self.unreachable or self.unreadable)


def tables_in(store: Store, configured: list[str]) -> list[str]:
    """Configured tables plus any other table the store holds a manifest or files for (a
    table's files are `<table>/yyyy/mm/<sha256>.parquet`; nothing under `.persys/` is one)."""
    found = set()
    for obj in store.list():
        parts = obj.key.split("/")
        if len(parts) == 2 and parts[1] == MANIFEST and not parts[0].startswith("."):
            found.add(parts[0])
        elif match := _FILE.match(obj.key):
            found.add(match["table"])
    return sorted(set(configured) | found)


def verify(stores: ArchiveStores, ring: Keyring, tables: list[str], sample_pct: float = 100.0,
           *, seed: int | None = None) -> VerifyReport:
    """Download, decrypt and check sha256 and row count of every (or a sampled share of) file.

    Only reads: a read-only store (a mounted backup, a bucket with read-only keys) verifies."""
    rng = random.Random(seed)
    report = VerifyReport()
    for store in stores.all:
        try:
            store.check_readable()
            names = tables_in(store, tables)
        except StoreError as exc:
            report.unreachable.append((store.url, str(exc)))
            continue
        for table in names:
            try:
                entries = read_manifest(store, table).files
            except ManifestUnreadable as exc:
                report.unreadable.append(str(exc))
                continue
            report.pending += [store.uri(e.key) for e in entries if e.state == "pending"]
            named = {e.key for e in entries}
            present = {o.key for o in store.list(f"{table}/")
                       if (m := _FILE.match(o.key)) and m["table"] == table}
            report.orphans += [store.uri(k) for k in sorted(present - named)]
            report.missing += [store.uri(e.key) for e in entries if e.key not in present]
            chosen = [e for e in entries if e.key in present]
            if sample_pct < 100:
                chosen = rng.sample(chosen, math.ceil(len(chosen) * sample_pct / 100))
            for entry in chosen:
                report.checked += 1
                problem = check_file(store, ring, entry)
                if problem:
                    report.bad.append((store.uri(entry.key), problem))
    return report


def check_file(store: Store, ring: Keyring, entry: FileEntry) -> str | None:
    """None when the file is intact, else why not (the asset check uses the same test)."""
    try:
        plain, _ = load_file(store, ring, entry)
        # one file at a time: Arrow's thread pool would add nothing but threads alive at exit
        rows = fmt.read_parquet(plain, use_threads=False).num_rows
    except (ArchiveError, CryptoError, StoreError) as exc:
        return str(exc)
    except (pa.ArrowException, OSError) as exc:
        return f"not a readable Parquet file ({exc})"
    if rows != entry.rows:
        return f"holds {rows} rows, the manifest says {entry.rows}"
    return None


def inventory(stores: ArchiveStores, tables: list[str]) -> dict:
    """Per store: reachable, files, bytes; per table: rows, days, files, bytes and stores."""
    out: dict = {"url": stores.primary.url, "bytes": 0, "files": 0, "stores": [], "tables": {}}
    for store in stores.all:
        info = {"url": store.url, "role": stores.role(store), "reachable": True, "files": 0,
                "bytes": 0, "error": None}
        out["stores"].append(info)
        try:
            store.check()
            names = tables_in(store, tables)
        except StoreError as exc:
            info.update(reachable=False, error=str(exc))
            continue
        for table in names:
            try:
                entries = read_manifest(store, table).committed()
            except ManifestUnreadable as exc:
                info["error"] = str(exc)
                continue
            if not entries:
                continue
            t = out["tables"].setdefault(table, {"rows": 0, "first_day": None, "last_day": None,
                                                 "null_day_rows": 0, "files": 0, "bytes": 0,
                                                 "stores": []})
            t["rows"] += sum(e.rows for e in entries)
            t["files"] += len(entries)
            t["bytes"] += sum(e.bytes for e in entries)
            firsts = [e.min_day for e in entries] + [t["first_day"] or "9999"]
            lasts = [e.max_day for e in entries] + [t["last_day"] or "0000"]
            t["first_day"], t["last_day"] = min(firsts), max(lasts)
            t["stores"].append(store.url)
            info["files"] += len(entries)
            info["bytes"] += sum(e.bytes for e in entries)
        out["files"] += info["files"]
        out["bytes"] += info["bytes"]
    return out


def manifest_rows(stores: ArchiveStores, table: str) -> list[tuple[Store, FileEntry]]:
    """Committed entries of a table in every reachable store (for readers)."""
    found = []
    for store in stores.all:
        try:
            entries = read_manifest(store, table).committed()
        except (StoreError, ManifestUnreadable):
            continue
        found += [(store, e) for e in entries]
    return found

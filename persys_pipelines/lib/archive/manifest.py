"""Manifests: what the archive holds, one typed entry per immutable file.

`<table>/manifest.json` lists the table's files (`FileEntry`: key, month, sha256, rows,
min/max day, schema, fingerprint, key id, ledger id, state). A file is written before its
entry, an entry before the rows leave main, and a file is deleted only on positive proof that
its rows are elsewhere (lib/moves/main_archive.reconcile). The same entry is kept in the
ledger row of the move that made the file, so a manifest that is lost or damaged is rebuilt
from the files and the ledger, never read as "the archive is empty".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import ArchiveError
from ..pg.fingerprint import TEXT, Fingerprint
from .crypto import Keyring
from .stores import Store

MANIFEST = "manifest.json"
PENDING, COMMITTED = "pending", "committed"


@dataclass(frozen=True)
class FileEntry:
    """One archive file. `fingerprint` is what left main (`<algorithm>:<rows>:<checksum>`), so
    a restore proves the round trip exact; `schema` the PostgreSQL types the rows had then."""

    key: str
    month: str  # yyyy-mm
    sha256: str  # of the plain Parquet bytes (also in the key)
    rows: int
    bytes: int  # as stored (encrypted or not)
    min_day: str
    max_day: str
    schema: list[tuple[str, str]]
    primary_key: list[str]
    fingerprint: str
    key_id: str | None = None
    created: str = ""
    ledger_id: int | None = None
    state: str = COMMITTED
    zone: str | None = None  # the timezone the rows' days were computed in

    @property
    def fp(self) -> Fingerprint:
        return Fingerprint.parse(self.fingerprint, TEXT)

    @property
    def pg_types(self) -> dict[str, str]:
        return dict(self.schema)

    def covers(self, first: dt.date, last: dt.date) -> bool:
        return not (self.max_day < first.isoformat() or self.min_day > last.isoformat())

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["schema"] = [list(c) for c in self.schema]
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> FileEntry:
        """An entry as written by any version (before the engine: `checksum` with rows,
        text-hashed)."""
        doc = dict(doc)
        if "fingerprint" not in doc:
            doc["fingerprint"] = f"{TEXT}:{doc['rows']}:{doc.pop('checksum')}"
        doc.pop("checksum", None)
        doc["schema"] = [tuple(c) for c in doc.get("schema", [])]
        doc.setdefault("primary_key", [])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in doc.items() if k in known})

    def committed(self) -> FileEntry:
        return replace(self, state=COMMITTED)


@dataclass
class Manifest:
    table: str
    files: list[FileEntry] = field(default_factory=list)
    rebuilt: str | None = None  # when a lost or damaged manifest was rebuilt, and from what

    def committed(self) -> list[FileEntry]:
        return [e for e in self.files if e.state == COMMITTED]

    def pending(self) -> list[FileEntry]:
        return [e for e in self.files if e.state == PENDING]

    def named(self) -> set[str]:
        return {e.key for e in self.files}

    def put(self, entry: FileEntry) -> None:
        """Add or replace the entry of `entry.key`."""
        self.files = [e for e in self.files if e.key != entry.key] + [entry]

    def drop(self, key: str) -> None:
        self.files = [e for e in self.files if e.key != key]


def manifest_key(table: str) -> str:
    return f"{table}/{MANIFEST}"


def file_key(table: str, month: dt.date, sha256: str) -> str:
    return f"{table}/{month:%Y}/{month:%m}/{sha256}.parquet"


class ManifestUnreadable(ArchiveError):
    """The manifest exists but cannot be read; the table's files are left alone."""


def read_manifest(store: Store, table: str) -> Manifest:
    """The table's manifest; an absent one is empty. A damaged one is an error (its files are
    never treated as orphans): `persys lifecycle repair` rebuilds it."""
    key = manifest_key(table)
    if not store.exists(key):
        return Manifest(table)
    try:
        doc = json.loads(store.get(key))
        return Manifest(table, [FileEntry.from_json(e) for e in doc["files"]],
                        doc.get("rebuilt"))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ManifestUnreadable(
            f"{store.uri(key)} cannot be read ({type(exc).__name__}: {exc}); nothing was "
            f"changed. Run `persys lifecycle repair --table {table}` to rebuild it from the "
            "files and the ledger") from None


def write_manifest(store: Store, manifest: Manifest) -> None:
    """Atomic: the folder store writes temp+fsync+rename, S3 replaces whole objects."""
    manifest.files.sort(key=lambda e: (e.min_day, e.key))
    doc: dict[str, Any] = {"format": 2, "table": manifest.table,
                           "files": [e.to_json() for e in manifest.files]}
    if manifest.rebuilt:
        doc["rebuilt"] = manifest.rebuilt
    store.put(manifest_key(manifest.table), json.dumps(doc, indent=1).encode())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_file(store: Store, ring: Keyring, entry: FileEntry) -> tuple[bytes, str | None]:
    """(plain Parquet bytes, key id) of a manifest entry; errors say which key and why."""
    stored = store.get(entry.key)
    plain, key_id = ring.decrypt(stored, entry.key)
    if sha256(plain) != entry.sha256:
        raise ArchiveError(f"{store.uri(entry.key)}: sha256 {sha256(plain)[:12]}… does not "
                           f"match the manifest's {entry.sha256[:12]}…: the file is damaged")
    return plain, key_id


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

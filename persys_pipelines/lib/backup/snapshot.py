"""Take, list and expire backups of a tier.

Layout in the backup store (`tiers.archive.backup_url`, else the archive store), under a
namespace no table's archive can collide with (a table's keys are `<table>/yyyy/mm/…`, and a
table name never starts with a dot): `.persys/backups/<tier>/<id>/<table>.parquet` (always
encrypted, the key as associated data) and `.persys/backups/<tier>/<id>/manifest.json`,
written last: a backup without its manifest is unfinished (a crash) and is neither listed nor
restored; the next retention pass deletes it. The id is the UTC time the snapshot was taken,
so ids sort by age. Backups taken before the namespace (`backups/…`) are still listed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..archive import format as fmt
from ..archive.crypto import Keyring
from ..archive.manifest import sha256
from ..archive.stores import Store
from ..errors import ArchiveError, UsageError
from ..pg import fingerprint
from ..pg.catalog import ident, primary_key, table_columns, table_exists
from ..pg.schema import OUTPUT_TABLES
from ..pg.tiers import PgTier

PREFIX = ".persys/backups"
LEGACY_PREFIX = "backups"  # before the namespace; listed and restored, never written
TIERS = ("core", "main")
# The project's own tables, backed up wherever they exist (the person's are the caller's).
PROJECT_TABLES = (*OUTPUT_TABLES, "persys.ledger", "persys.pins", "persys.usage", "persys.costs",
                  "persys.health_checks", "persys.notifications", "persys.incidents")
ID_FORMAT = "%Y%m%dT%H%M%S"
LEVEL = 6  # zstd level: backups are written often and kept briefly, speed over the last byte


# (session, table, alias) → a condition on row `alias` for rows the backup leaves out, or None
LeaveOut = Callable[[psycopg.Connection, str, str], sql.Composable | None]


class BackupError(ArchiveError):
    """A backup cannot be taken, found, verified or restored; says which and why."""


@dataclass(frozen=True)
class Backup:
    tier: str
    id: str
    manifest: dict
    prefix: str = PREFIX

    @property
    def taken_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.manifest["taken_at"])

    @property
    def rows(self) -> int:
        return sum(t["rows"] for t in self.manifest["tables"].values())

    @property
    def bytes(self) -> int:
        return sum(t["bytes"] for t in self.manifest["tables"].values())

    @property
    def refused(self) -> dict[str, str]:
        """Table → why it is not in this backup (a value it cannot keep exactly)."""
        return self.manifest.get("refused", {})

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.tier, self.id, self.prefix)


def backup_dir(tier: str, backup_id: str, prefix: str = PREFIX) -> str:
    return f"{prefix}/{tier}/{backup_id}"


def file_key(tier: str, backup_id: str, table: str) -> str:
    return f"{backup_dir(tier, backup_id)}/{table}.parquet"


def manifest_key(tier: str, backup_id: str, prefix: str = PREFIX) -> str:
    return f"{backup_dir(tier, backup_id, prefix)}/manifest.json"


def new_id(now: dt.datetime | None = None) -> str:
    """UTC time to the millisecond: two backups in one second stay two backups."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{now.strftime(ID_FORMAT)}.{now.microsecond // 1000:03d}Z"


def tables_to_back_up(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    """The person's `tables` and the project's own that exist in this tier, in a stable
    order."""
    wanted = list(dict.fromkeys([*tables, *PROJECT_TABLES]))
    return [t for t in wanted if table_exists(conn, t)]


def export_table(conn: psycopg.Connection, table: str, leave_out: LeaveOut | None = None
                 ) -> tuple[bytes, fingerprint.Fingerprint, dict[str, str]]:
    """(Parquet bytes, fingerprint, pg types) of the table in the caller's snapshot, less the
    rows `leave_out` names (main's copies of rows core still holds).

    The fingerprint covers every column (generated ones too) and is taken in the same
    snapshot as the rows, so a restore can prove it gave back exactly these rows."""
    pg_types = table_columns(conn, table)
    alias = fingerprint.ALIAS
    out = leave_out(conn, table, alias) if leave_out else None
    kept = sql.SQL("true") if out is None else sql.SQL("not ({})").format(out)
    data = fmt.export_arrow(conn, table, pg_types, day=sql.SQL("null::date"),
                            rows=sql.SQL("{} {} where {}").format(ident(table),
                                                                  sql.Identifier(alias), kept),
                            key=primary_key(conn, table))
    found = fingerprint.of_table(conn, table, list(pg_types), kept)
    if found.rows != data.num_rows:
        raise BackupError(f"backup of {table}: exported {data.num_rows} rows, counted "
                          f"{found.rows}")
    return fmt.parquet_bytes(data, level=LEVEL), found, pg_types


def read_only_snapshot(tier: PgTier) -> psycopg.Connection:
    """A connection whose first transaction is REPEATABLE READ READ ONLY: every table is read
    in one snapshot, and nothing can be written to the tier (core's quota, the app's data)."""
    conn = tier.connect()
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def run_backup(tier: PgTier, store: Store, ring: Keyring, tables: list[str], *, keep: int,
               now: dt.datetime | None = None, leave_out: LeaveOut | None = None) -> Backup:
    """Back up every table of the tier (encrypted: `ring` must hold a key), less the rows
    `leave_out` names, then write the manifest, then apply retention (`keep` finished
    backups).

    A table holding a value a file cannot keep exactly (format.ArchiveFormatError) is left
    out, the others are backed up, and the manifest says which and why (`Backup.refused`);
    retention then deletes nothing, so the older backups that hold that table stay."""
    if tier.name not in TIERS:
        raise UsageError(f"unknown tier {tier.name!r}; use core or main")
    if not ring:
        raise BackupError("backups are always encrypted and no key is set: run `persys setup` "
                          "(it creates one) or set tiers.archive.encryption_key")
    backup_id = new_id(now)
    entries: dict[str, dict] = {}
    refused: dict[str, str] = {}
    key_id = None
    with read_only_snapshot(tier) as conn:
        for table in tables_to_back_up(conn, tables):
            try:
                plain, found, pg_types = export_table(conn, table, leave_out)
            except fmt.ArchiveFormatError as exc:
                refused[table] = str(exc)
                continue
            key = file_key(tier.name, backup_id, table)
            sealed, key_id = ring.encrypt(plain, key)
            store.put(key, sealed)
            entries[table] = {"key": key, "rows": found.rows, "fingerprint": found.text,
                              "sha256": sha256(plain), "bytes": len(sealed),
                              "schema": [[n, t] for n, t in pg_types.items()]}
        conn.rollback()  # read only: nothing to keep
    manifest = {"version": 2, "tier": tier.name, "id": backup_id,
                "taken_at": (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(),
                "key_id": key_id, "tables": entries, "refused": refused}
    store.put(manifest_key(tier.name, backup_id), json.dumps(manifest, indent=1).encode())
    if not refused:
        expire(store, tier.name, keep)
    return Backup(tier.name, backup_id, manifest)


def _ids(store: Store, tier: str, prefix: str) -> tuple[list[str], set[str]]:
    """(every backup id seen under the tier, the ids with a manifest), oldest first."""
    seen: set[str] = set()
    complete: set[str] = set()
    depth = len(prefix.split("/")) + 3
    for obj in store.list(f"{prefix}/{tier}/"):
        parts = obj.key.split("/")
        if len(parts) != depth:
            continue
        seen.add(parts[-2])
        if parts[-1] == "manifest.json":
            complete.add(parts[-2])
    return sorted(seen), complete


def list_backups(store: Store, tier: str | None = None) -> list[Backup]:
    """Finished backups (with a manifest) in the store, oldest first, of one tier or both."""
    found = []
    for prefix in (PREFIX, LEGACY_PREFIX):
        for name in [tier] if tier else TIERS:
            ids, complete = _ids(store, name, prefix)
            for backup_id in ids:
                if backup_id in complete:
                    doc = json.loads(store.get(manifest_key(name, backup_id, prefix)))
                    found.append(Backup(name, backup_id, doc, prefix))
    return sorted(found, key=lambda b: (b.taken_at, b.tier))


def find_backup(store: Store, tier: str, backup_id: str | None) -> Backup:
    """The backup `backup_id` of the tier, or its newest one when None."""
    backups = list_backups(store, tier)
    if backup_id is None:
        if not backups:
            raise BackupError(f"no backup of {tier} yet; take one with `persys backup run "
                              f"--tier {tier}`")
        return backups[-1]
    for b in backups:
        if b.id == backup_id:
            return b
    raise BackupError(f"no finished backup {backup_id!r} of {tier}; `persys backup list` "
                      "shows the ids")


def expire(store: Store, tier: str, keep: int) -> list[str]:
    """Delete the oldest finished backups beyond `keep`, and unfinished ones older than the
    newest finished one (a crash's leftovers); manifest first, so a half-deleted backup is
    never listed. Returns the ids deleted."""
    doomed_all: list[str] = []
    finished_all = [b.id for b in list_backups(store, tier)]
    newest = finished_all[-1] if finished_all else None
    doomed_ids = set(finished_all[:-keep]) if len(finished_all) > keep else set()
    for prefix in (PREFIX, LEGACY_PREFIX):
        ids, complete = _ids(store, tier, prefix)
        doomed = [i for i in ids if i in doomed_ids]
        if newest is not None:
            doomed += [i for i in ids if i not in complete and i < newest]
        for backup_id in sorted(doomed):
            store.delete(manifest_key(tier, backup_id, prefix))
            for obj in list(store.list(backup_dir(tier, backup_id, prefix) + "/")):
                store.delete(obj.key)
        doomed_all += doomed
    return sorted(doomed_all)


# how often each schedule takes a backup, in hours; a backup older than this plus a grace of
# half a day means a scheduled backup was missed (`persys status` says so)
SCHEDULE_HOURS = {"daily": 24, "weekly": 24 * 7}
GRACE_HOURS = 12


def newest_age(store: Store, schedules: dict[str, str], now: dt.datetime | None = None
               ) -> dict[str, dict | None]:
    """Tier → its newest backup's id, age and whether it is overdue for its schedule (None:
    never backed up): `persys status`."""
    now = now or dt.datetime.now(dt.UTC)
    out: dict[str, dict | None] = {}
    backups = list_backups(store)
    for tier in TIERS:
        mine = [b for b in backups if b.tier == tier]
        every = SCHEDULE_HOURS.get(schedules.get(tier, "off"))
        if not mine:
            out[tier] = None if every is None else {"id": None, "age_hours": None,
                                                    "schedule": schedules[tier], "overdue": True}
            continue
        age = round((now - mine[-1].taken_at).total_seconds() / 3600, 1)
        out[tier] = {"id": mine[-1].id, "age_hours": age, "schedule": schedules.get(tier, "off"),
                     "overdue": every is not None and age > every + GRACE_HOURS}
    return out

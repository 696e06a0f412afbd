"""`.persys-archive`: the file that says "this is the archive", at the root of every store.

An unmounted NAS folder looks like an empty archive: the mount point exists, it is writable,
and a run would start a second archive in it (and readers would find no months at all). So the
first setup, and the first archive run into a store, write a small marker file; from then on a
store without it is suspect. A write into a store without the marker is refused when main's
ledger says months were archived into that store (the files must be somewhere else: the share
is not mounted, or the URL changed); `persys doctor` says the same, read-only.
"""

from __future__ import annotations

import datetime as dt
import json

import psycopg

from ..errors import ArchiveError
from ..pg.catalog import table_exists
from .stores import Store

MARKER = ".persys-archive"


def has_marker(store: Store) -> bool:
    return store.exists(MARKER)


def write_marker(store: Store) -> None:
    body = {"persys": "archive", "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    store.put(MARKER, json.dumps(body).encode())


def archived_into(conn: psycopg.Connection, store: Store) -> int:
    """Months main's ledger records as archived into `store` (0 without a ledger)."""
    if not table_exists(conn, "persys.ledger"):
        return 0
    return int(conn.execute(
        "select count(*) from persys.ledger where route = 'main_archive' and state = 'done' "
        "and rows > 0 and detail->>'store' = %s", (store.url,)).fetchone()[0])


def missing_marker_problem(store: Store, archived: int) -> str:
    return (f"{store.url} has no {MARKER} marker file, but main's ledger records {archived} "
            f"month(s) archived into it: this is probably not the archive (a NAS share that is "
            "not mounted, or a changed URL). Mount the share or fix tiers.archive.url; if the "
            f"files really are gone, restore them from a copy, or create {MARKER} in the store "
            "to start over there on purpose")


def ensure_marker(store: Store, conn: psycopg.Connection) -> None:
    """Before writing archive files: the marker is there, or is written now when nothing was
    archived into the store yet; refuses (ArchiveError with the fix) otherwise."""
    if has_marker(store):
        return
    archived = archived_into(conn, store)
    if archived:
        raise ArchiveError(missing_marker_problem(store, archived))
    write_marker(store)

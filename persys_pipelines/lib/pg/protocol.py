"""The one move protocol's shared steps, used by core→main, main→archive, restore and purge.

Every move walks: lock (`table_lock`) → snapshot → copy → verify (`fingerprint`) → delete
exactly what was copied → ledger → reconcile after a crash. What the steps share lives here:

- `prepare_session`: row text (and so every checksum) must not depend on server defaults, and
  a mover never holds a lock long enough to fail a statement of the person's app: it waits at
  most `LOCK_TIMEOUT` for any lock, which is below PostgreSQL's default `deadlock_timeout`
  (1 s), so in a lock conflict the mover gives up first and retries; the app never does.
  A read-only core (a full Supabase free project) is switched to read-write for the mover's
  own sessions, which is exactly what frees the space that makes it writable again.
- `fingerprint`: row count and order-independent checksum `sum(hashtextextended(t::text, 0))`.
- `table_lock`: one advisory lock per table in main, for every mover of that table (session
  scoped, or transaction scoped behind a transaction pooler: `held_lock`).
- `crash_point`: `PERSYS_CRASH_AT=<name>` announces the point on stdout and kills the process
  with SIGKILL there, so crash tests stop a mover at an exact step. The points, in order:
  `CRASH_POINTS`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import psycopg
from psycopg import sql

from ..errors import MoveError
from .tiers import PgTier, PooledConnection

CRASH_ENV = "PERSYS_CRASH_AT"
CRASH_POINTS = (
    # core→main (tiering.moves)
    "opened", "copied", "inserted", "main_committed", "core_deleting", "delete_sent",
    "deleted", "closed", "space",
    # main→archive (archive.writer)
    "before_put", "after_put", "after_manifest", "before_commit", "after_commit",
    # archive→main (archive.restore.restore)
    "restore_before_commit", "restore_after_commit",
    # a table converted to monthly partitions (tiering.adopt), both inside its one transaction
    "adopt_copied", "adopt_swapped",
)
LOCK_TIMEOUT = "500ms"  # < deadlock_timeout (1 s): in a conflict the mover yields first
LOCK_RETRIES = 40  # a mover waits up to ~LOCK_RETRIES × (0.5 s + back-off) for the app
SESSION_SETTINGS = {
    "timezone": "UTC",
    "datestyle": "ISO, YMD",
    "intervalstyle": "postgres",
    "extra_float_digits": "1",
    "lock_timeout": LOCK_TIMEOUT,
    "statement_timeout": "0",
    "idle_in_transaction_session_timeout": "0",
    "default_transaction_read_only": "off",
}
LOCK_WAIT_S = 900.0  # behind a transaction pooler, a mover waits this long for another one

T = TypeVar("T")


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    checksum: int

    @property
    def text(self) -> str:
        return f"{self.rows}:{self.checksum}"

    def __add__(self, other: Fingerprint) -> Fingerprint:
        return Fingerprint(self.rows + other.rows, self.checksum + other.checksum)


NO_ROWS = Fingerprint(0, 0)


def prepare_session(conn: psycopg.Connection) -> None:
    """Pin text forms and lock waits for this session (see the module docstring).

    Behind a transaction pooler they are set per transaction instead (`PooledConnection`):
    a session SET would stay on the server session for another client and be missing on the
    next server session this connection gets."""
    if isinstance(conn, PooledConnection):
        settings = dict(SESSION_SETTINGS)
        # set_config() cannot make a read-only transaction writable: BEGIN READ WRITE does
        del settings["default_transaction_read_only"]
        conn.transaction_settings = settings
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            conn.read_only = False
        else:
            conn.execute(conn.settings_statement())  # the open transaction gets them too
        return
    was_idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    for name, value in SESSION_SETTINGS.items():
        conn.execute(sql.SQL("set {} to {}").format(sql.Identifier(name), sql.Literal(value)))
    if was_idle and not conn.autocommit:
        conn.commit()


def fingerprint(conn: psycopg.Connection, source: sql.Composable,
                condition: sql.Composable | None = None) -> Fingerprint:
    """Rows and checksum of `source` (a table name or a parenthesised query) where
    `condition` holds; the session must be prepared (`prepare_session`)."""
    if isinstance(source, str):
        source = sql.Identifier(source)
    row = conn.execute(
        sql.SQL("select count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) "
                "from {} t where {}").format(source, condition or sql.SQL("true"))
    ).fetchone()
    return Fingerprint(int(row[0]), int(row[1]))


def lock_key(table: str) -> str:
    return f"persys_table:{table}"


@contextlib.contextmanager
def table_lock(tier: PgTier, table: str) -> Iterator[psycopg.Connection]:
    """One mover per table at a time, across processes and tier pairs (core→main, archive,
    restore, purge): an advisory lock in main, held while the yielded autocommit connection
    (which the caller may use for the ledger) is in use."""
    with held_lock(tier, lock_key(table), f"another persys mover of {table}"), \
            tier.connect(autocommit=True) as conn:
        yield conn


@contextlib.contextmanager
def held_lock(tier: PgTier, key: str, holder: str) -> Iterator[None]:
    """An advisory lock on `key` in `tier` for the body of the `with`.

    Directly or through a session pooler: a session lock (waits for the holder). Through a
    transaction pooler a session lock would stay with the server session and be unlocked (or
    not) on another one, so the lock is transaction-scoped (`pg_advisory_xact_lock`) in a
    transaction kept open on its own connection; a waiter tries, gives its server session
    back and tries again, so two waiters never starve a small pool. A killed holder's
    transaction ends with its connection, which releases the lock either way."""
    arg = (key,)
    if not tier.transaction_pooled:
        with tier.connect(autocommit=True) as conn:
            conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))", arg)
            try:
                yield
            finally:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("select pg_advisory_unlock(hashtextextended(%s, 0))", arg)
        return
    deadline = time.monotonic() + LOCK_WAIT_S
    with tier.connect() as conn:
        for n in itertools.count():
            conn.execute("select set_config('idle_in_transaction_session_timeout', '0', true)")
            if conn.execute("select pg_try_advisory_xact_lock(hashtextextended(%s, 0))",
                            arg).fetchone()[0]:
                break
            conn.rollback()
            if time.monotonic() > deadline:
                raise MoveError(f"{holder} has held the lock for over {LOCK_WAIT_S / 60:.0f} "
                                "minutes; nothing was changed, run again when it is done")
            time.sleep(min(1.0, 0.05 * 2 ** min(n, 5)))
        try:
            yield
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.rollback()


def crash_point(name: str) -> None:
    """Crash tests: with PERSYS_CRASH_AT=<name>, say so on stdout and die by SIGKILL here."""
    if os.environ.get(CRASH_ENV) == name:
        print(f"persys-crash-point {name}", flush=True)
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)  # never reached


def is_lock_conflict(exc: BaseException) -> bool:
    """A mover's statement gave way to the app (lock timeout, deadlock, serialization)."""
    return isinstance(exc, psycopg.errors.LockNotAvailable | psycopg.errors.DeadlockDetected
                      | psycopg.errors.SerializationFailure)


def yielding(what: str, attempt: Callable[[], T], *, retries: int = LOCK_RETRIES) -> T:
    """Run `attempt` (one transaction), again after a short back-off whenever it gave way to
    the person's app; the caller's transaction must be rolled back by `attempt` on error."""
    for n in range(retries):
        try:
            return attempt()
        except psycopg.Error as exc:
            if not is_lock_conflict(exc):
                raise
            time.sleep(min(2.0, 0.05 * 2 ** min(n, 5)))
    raise MoveError(f"{what}: the app kept the rows locked through {retries} attempts; "
                    "nothing was lost, run again when the app is quieter")

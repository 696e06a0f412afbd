"""The one session-pinning function, and how a mover gives way to the person's app.

Row text (and so every fingerprint and every archived value) must not depend on a server's
defaults, and a mover never holds a lock long enough to fail a statement of the person's app:
it waits at most `LOCK_TIMEOUT` for any lock, below PostgreSQL's default `deadlock_timeout`
(1 s), so in a lock conflict the mover gives up first and retries (`yielding`); the app never
does. A read-only core (a full Supabase free project) is switched to read-write for the
mover's own sessions, which is exactly what frees the space that makes it writable again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg import sql

from ..errors import MoveError
from .tiers import PooledConnection

LOCK_TIMEOUT = "500ms"  # < deadlock_timeout (1 s): in a conflict the mover yields first
LOCK_RETRIES = 40  # a mover waits up to ~LOCK_RETRIES × (0.5 s + back-off) for the app
TEXT_FORMS = {
    "timezone": "UTC",
    "datestyle": "ISO, YMD",
    "intervalstyle": "postgres",
    "extra_float_digits": "1",
}
SESSION_SETTINGS = {
    **TEXT_FORMS,
    "lock_timeout": LOCK_TIMEOUT,
    "statement_timeout": "0",
    "idle_in_transaction_session_timeout": "0",
    "default_transaction_read_only": "off",
}

T = TypeVar("T")


def pin_session(conn: psycopg.Connection, *, local: bool = False) -> None:
    """Pin text forms and lock waits for this session (`local`: the text forms only, for the
    rest of the current transaction, as a reader of archived rows needs).

    Behind a transaction pooler they are set per transaction instead (`PooledConnection`):
    a session SET would stay on the server session for another client and be missing on the
    next server session this connection gets."""
    if local:
        conn.execute(sql.SQL("select {}").format(sql.SQL(", ").join(
            sql.SQL("set_config({}, {}, true)").format(sql.Literal(k), sql.Literal(v))
            for k, v in TEXT_FORMS.items())))
        return
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
    conn.execute(sql.SQL("select {}").format(sql.SQL(", ").join(
        sql.SQL("set_config({}, {}, false)").format(sql.Literal(k), sql.Literal(v))
        for k, v in SESSION_SETTINGS.items())))
    if was_idle and not conn.autocommit:
        conn.commit()


def in_snapshot(conn: psycopg.Connection, snapshot_id: str) -> None:
    """Start `conn`'s next transaction (read only, REPEATABLE READ) in another session's
    exported snapshot (`pg_export_snapshot()`), to read exactly what that session reads."""
    conn.execute("set transaction isolation level repeatable read, read only")
    conn.execute(sql.SQL("set transaction snapshot {}").format(sql.Literal(snapshot_id)))


def is_lock_conflict(exc: BaseException) -> bool:
    """A mover's statement gave way to the app (lock timeout, deadlock, serialization)."""
    return isinstance(exc, psycopg.errors.LockNotAvailable | psycopg.errors.DeadlockDetected
                      | psycopg.errors.SerializationFailure)


def yielding(what: str, attempt: Callable[[], T], *, retries: int = LOCK_RETRIES,
             retry_on: tuple[type[Exception], ...] = ()) -> T:
    """Run `attempt` (one transaction), again after a short back-off whenever it gave way to
    the person's app (a lock conflict, or one of `retry_on`: the attempt's own reasons to
    wait); the caller's transaction must be rolled back by `attempt` on error."""
    last: Exception | None = None
    for n in range(retries):
        try:
            return attempt()
        except Exception as exc:
            if not (isinstance(exc, retry_on)
                    or isinstance(exc, psycopg.Error) and is_lock_conflict(exc)):
                raise
            last = exc
            time.sleep(min(2.0, 0.05 * 2 ** min(n, 5)))
    why = (f" ({last})" if isinstance(last, retry_on) else "")
    raise MoveError(f"{what}: the app kept the rows locked through {retries} attempts{why}; "
                    "nothing was lost, run again when the app is quieter")

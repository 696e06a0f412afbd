"""The person's SQL runs read-only and bounded: `daily` source expressions and doctor's checks.

A source's `value` is an expression the person wrote in persys.yaml. It may call any function
the database has, and a function can write (`setval`, `nextval`, a function of the app's) or
hang (`pg_sleep`). Evaluated inside `guarded`, such a call fails at once instead: the
transaction is READ ONLY (PostgreSQL refuses every write, `setval` and `nextval` included) and
has a statement timeout (`set_config(..., true)`, so it ends with the transaction and works
through a transaction pooler too). The transaction is always rolled back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg

from ..errors import TierError


class GuardedError(TierError):
    """The person's expression tried to write, or ran past the statement timeout."""


@contextlib.contextmanager
def guarded(conn: psycopg.Connection, timeout_s: float | None) -> Iterator[psycopg.Connection]:
    """A read-only transaction with `statement_timeout` = `timeout_s`, rolled back at the end
    (inside an open transaction: a savepoint that is read-only from here on; a transaction
    may always turn read-only, never back)."""
    ms = str(max(1, round(timeout_s * 1000))) if timeout_s else "0"
    with conn.transaction(force_rollback=True):
        conn.execute("select set_config('transaction_read_only', 'on', true), "
                     "set_config('statement_timeout', %s, true)", (ms,))
        yield conn


def why_refused(exc: BaseException, timeout_s: float | None) -> str | None:
    """The person's words for a write or a timeout inside `guarded`, else None."""
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return (f"it ran longer than the statement timeout of {timeout_s:g} s "
                "(daily.statement_timeout_s); a source must be a plain, quick expression")
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        diag = exc.diag.message_primary if exc.diag else str(exc)
        return (f"it tries to write ({diag}); a source may only read: remove the function "
                "call that writes")
    return None

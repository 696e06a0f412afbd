"""Reading a `COPY … TO STDOUT` at the libpq level, for the two bulk readers (the core→main
relay and the archive export).

The server sends one COPY message per row; reading them through psycopg's `Copy` iterator costs
~3 µs of Python a row, a second a year of journal on a 2-core machine where the servers need
the cores too. `pgconn` (psycopg's documented low-level API) hands each message over with a
third of that. The caller's transaction (and snapshot) is used and stays usable whatever the
consumer does: an interrupted read drains the stream before it returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import pq, sql

from ..errors import TierError


class CopyOut:
    """The messages of one COPY TO STDOUT; `rows` is the server's count once it has ended."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.rows = -1
        self._ended = False

    def __iter__(self) -> Iterator[bytes]:
        pg = self.conn.pgconn
        while True:
            n, data = pg.get_copy_data(0)
            if n < 0:
                self._ended = True
                return
            yield data

    def _finish(self) -> None:
        pg = self.conn.pgconn
        if not self._ended:  # the consumer stopped early: read to the end of the stream
            while pg.get_copy_data(0)[0] >= 0:
                pass
        self.rows = finish(self.conn, pg.get_result())


@contextmanager
def copy_out(conn: psycopg.Connection, statement: sql.Composable) -> Iterator[CopyOut]:
    """`with copy_out(conn, sql.SQL("copy (…) to stdout (…)")) as out: for data in out: …`;
    the server's error, if any, is raised as psycopg would raise it."""
    pg = conn.pgconn
    pg.send_query(statement.as_bytes(conn))
    while pg.flush():  # the connection is non-blocking: make sure the query went out
        pass
    res = pg.get_result()
    if res is None or res.status != pq.ExecStatus.COPY_OUT:
        finish(conn, res)  # raises the server's error
        raise TierError("the server did not start the COPY")
    out = CopyOut(conn)
    try:
        yield out
    finally:
        out._finish()


def copy_out_bytes(conn: psycopg.Connection, statement: sql.Composable) -> bytearray:
    """All of a COPY's output in one buffer (the archive export parses a month at once)."""
    buf = bytearray()
    with copy_out(conn, statement) as out:
        for data in out:
            buf += data
    return buf


def finish(conn: psycopg.Connection, res: pq.abc.PGresult | None) -> int:
    """Consume the COPY's final results (raising the server's error as psycopg would) and
    return the rows the server reports (`COPY n`)."""
    rows = -1
    error = None
    while res is not None:
        if res.status == pq.ExecStatus.FATAL_ERROR and error is None:
            error = psycopg.errors.error_from_result(res, encoding=conn.info.encoding)
        elif res.status == pq.ExecStatus.COMMAND_OK and res.command_tuples is not None:
            rows = res.command_tuples
        res = conn.pgconn.get_result()
    if error is not None:
        raise error
    if rows < 0:
        raise TierError("the server did not report how many rows it copied")
    return rows

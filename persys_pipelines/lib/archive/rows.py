"""Archived rows back into PostgreSQL: the one way a restore, a repair's proof, a drill and a
backup restore load a file's rows before they trust them."""

from __future__ import annotations

import psycopg
from psycopg import sql

from ..lazy import lazy_module
from ..pg.session import pin_session
from .format import pg_types_of, python_rows

pa = lazy_module("pyarrow")


def load_rows(conn: psycopg.Connection, target: sql.Composable, data: pa.Table) -> list[str]:
    """COPY archived rows (a decoded Parquet table) into `target`, a table with at least the
    archived columns; returns the columns written, in the file's order. The session's text
    forms are pinned first, as they were when the rows left main."""
    pg_types = pg_types_of(data.schema)
    pin_session(conn, local=True)
    cols = sql.SQL(", ").join(map(sql.Identifier, pg_types))
    with conn.cursor() as cur, cur.copy(
        sql.SQL("copy {} ({}) from stdin").format(target, cols)
    ) as copy:
        for row in python_rows(data, pg_types):
            copy.write_row(row)
    return list(pg_types)

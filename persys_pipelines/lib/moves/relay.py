"""The relay: binary COPY streams from one tier's connection into another's, memory flat (the
core→main copy, its key lists, and any route that copies rows between tiers).

Core's side is read at the libpq level (`pg.copy_out`: a third of the Python a row that
psycopg's `Copy` iterator costs) and rows are handed to main's COPY in ~128 kB batches.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from ..errors import MoveError
from ..pg.catalog import ident
from ..pg.copy_out import copy_out
from .engine import Progress

STAGE = "persys_stage"
BATCH = 1 << 17  # bytes handed to main's COPY at once
PROGRESS_EVERY = 5000  # rows


def stream_copy(
    src: psycopg.Connection,
    dst: psycopg.Connection,
    select: sql.Composable,
    target: str | sql.Composable,
    columns: list[str],
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Binary COPY of `select` at `src` into `columns` of table `target` at `dst`; returns
    (rows, bytes), after checking that the destination took exactly the rows the source sent
    (both servers' own `COPY n`). `src` keeps its transaction (and snapshot) whatever happens
    at `dst`."""
    query = sql.SQL("copy ({}) to stdout (format binary)").format(select)
    copy_in = sql.SQL("copy {} ({}) from stdin (format binary)").format(
        ident(target) if isinstance(target, str) else target,
        sql.SQL(", ").join(map(sql.Identifier, columns)))
    n_bytes = messages = 0
    # copy_out drains core's stream if main fails mid-way (core's transaction stays usable)
    with copy_out(src, query) as out, dst.cursor() as dcur:
        with dcur.copy(copy_in) as into:
            batch = bytearray()
            for data in out:
                batch += data
                messages += 1
                if len(batch) >= BATCH:
                    into.write(batch)
                    n_bytes += len(batch)
                    batch = bytearray()
                if progress is not None and messages % PROGRESS_EVERY == 0:
                    progress(PROGRESS_EVERY)
            into.write(batch)
            n_bytes += len(batch)
        received = dcur.rowcount  # the destination's own `COPY n`
    rows = out.rows
    if received != rows:
        raise MoveError(f"{target if isinstance(target, str) else 'staging'}: the source sent "
                        f"{rows} rows, the destination took {received}; nothing is kept")
    if progress is not None and rows % PROGRESS_EVERY:
        progress(rows % PROGRESS_EVERY)
    return rows, n_bytes


def copy_staged(src: psycopg.Connection, dst: psycopg.Connection, table: str,
                select: sql.Composable, columns: list[str], primary_key: list[str],
                progress: Progress | None) -> tuple[int, int]:
    """Some keys are in main already: COPY into a temporary staging table, then upsert, so
    core's version replaces main's (core is the truth while a row is there)."""
    dst.execute(sql.SQL("create temp table if not exists {} (like {}) on commit drop").format(
        sql.Identifier(STAGE), ident(table)))
    dst.execute(sql.SQL("truncate {}").format(sql.Identifier(STAGE)))
    rows, size = stream_copy(src, dst, select, sql.Identifier(STAGE), columns, progress)
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    updates = [c for c in columns if c not in primary_key]
    action = (sql.SQL("do update set {}").format(sql.SQL(", ").join(
        sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in updates))
        if updates else sql.SQL("do nothing"))
    dst.execute(sql.SQL("insert into {t} ({c}) select {c} from {s} on conflict ({k}) {a}")
                .format(t=ident(table), c=cols, s=sql.Identifier(STAGE),
                        k=sql.SQL(", ").join(map(sql.Identifier, primary_key)), a=action))
    return rows, size


def copy_between(a: psycopg.Connection, b: psycopg.Connection, query: sql.Composable,
                 target: str) -> int:
    """Binary COPY of `query`'s rows at `a` into the temporary table `target` at `b`; returns
    the rows the server sent (its `COPY n`)."""
    with (a.cursor() as ca, b.cursor() as cb,
          ca.copy(sql.SQL("copy ({}) to stdout (format binary)").format(query)) as out,
          cb.copy(sql.SQL("copy {} from stdin (format binary)").format(
              sql.Identifier(target))) as into):
        for chunk in out:
            into.write(chunk)
        rows = ca.rowcount  # the server's `COPY n`, once the stream ended
    if rows < 0:
        raise MoveError("the source did not report how many rows it sent")
    return rows

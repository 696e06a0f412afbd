"""The relay: binary COPY streams from one tier's connection into another's, memory flat (the
core→main copy, its key lists, and any route that copies rows between tiers).

`copy_split` is the same-connection form: one pass over a table, each row into the table its
first column names (adopt's month partitions, loaded `FREEZE`).

Core's side is read at the libpq level (`pg.copy_out`: a third of the Python a row that
psycopg's `Copy` iterator costs) and rows are handed to main's COPY in ~128 kB batches.
"""

from __future__ import annotations

import contextlib
import struct
import tempfile

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


_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = _SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # no flags, no extension
_TRAILER = b"\xff\xff"
SPOOL_IN_MEMORY = 1 << 20  # bytes per target kept in memory before its spool goes to disk


def copy_split(conn: psycopg.Connection, select: sql.Composable,
               targets: list[sql.Composable], columns: list[str], *,
               freeze: bool = False) -> list[int]:
    """Binary COPY of `select` into several tables on the same connection, in one pass over
    the source: its first column is the index of the row's target (int4, 0-based), the others
    are `columns`. Each row is spooled (memory, then a temporary file) under its target, and
    each target is then loaded with one COPY (`freeze`: `COPY … FREEZE`, for tables created
    in this transaction). Returns the rows each target took, as its COPY reported them; a
    row whose index names no target, or a count that differs, raises."""
    counts = [0] * len(targets)
    with contextlib.ExitStack() as stack:
        spools = [stack.enter_context(tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY))
                  for _ in targets]
        with copy_out(conn, sql.SQL("copy ({}) to stdout (format binary)").format(select)) \
                as out:
            first = True
            for data in out:  # one row per message; the first one starts with the header
                view = memoryview(data)
                if first:
                    view = view[_header_length(view):]
                    first = False
                if len(view) < 2:
                    continue
                (fields,) = struct.unpack_from(">h", view, 0)
                if fields < 0:
                    continue  # the trailer
                length, index = struct.unpack_from(">ii", view, 2)
                if length != 4 or not 0 <= index < len(targets):
                    raise MoveError(f"a row has no target ({index}); nothing was loaded")
                spool = spools[index]
                spool.write(struct.pack(">h", fields - 1))
                spool.write(view[10:])
                counts[index] += 1
        cols = sql.SQL(", ").join(map(sql.Identifier, columns))
        option = sql.SQL(", freeze") if freeze else sql.SQL("")
        for target, spool, expected in zip(targets, spools, counts, strict=True):
            if not expected:
                continue
            spool.seek(0)
            with conn.cursor() as cur:
                with cur.copy(sql.SQL("copy {} ({}) from stdin (format binary{})").format(
                        target, cols, option)) as into:
                    into.write(_HEADER)
                    while chunk := spool.read(BATCH):
                        into.write(chunk)
                    into.write(_TRAILER)
                if cur.rowcount != expected:
                    raise MoveError(f"{target.as_string(conn)} took {cur.rowcount} rows of "
                                    f"{expected} sent")
    return counts


def _header_length(view: memoryview) -> int:
    if bytes(view[:len(_SIGNATURE)]) != _SIGNATURE:
        raise MoveError("the server's binary COPY did not start with its signature")
    (extension,) = struct.unpack_from(">i", view, len(_SIGNATURE) + 4)
    return len(_SIGNATURE) + 8 + extension

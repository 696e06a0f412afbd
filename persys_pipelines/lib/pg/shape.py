"""A table's shape (columns, their types in order, primary key) and the check that two tiers
agree on it.

A move never casts silently: the destination has the same columns, in the same order, with the
same types, or the move stops with a `SchemaMismatch` naming the table, the column and both
types. (`mirror` makes main's table from core's; this module only compares.)
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from ..errors import MoveError
from .catalog import primary_key, table_columns


class SchemaMismatch(MoveError):
    """The table differs between tiers; the message names the table, column and both types."""


@dataclass(frozen=True)
class TableShape:
    columns: dict[str, str]  # name → formatted type, in table order
    primary_key: list[str]


def table_shape(conn: psycopg.Connection, table: str) -> TableShape:
    return TableShape(table_columns(conn, table), primary_key(conn, table))


def check_same_shape(
    table: str, source: TableShape, dest: TableShape, src_name: str, dst_name: str
) -> None:
    """Same columns, same order, same types — a difference is an error, never a silent cast."""
    s_cols, d_cols = list(source.columns.items()), list(dest.columns.items())
    for i in range(max(len(s_cols), len(d_cols))):
        s = s_cols[i] if i < len(s_cols) else None
        d = d_cols[i] if i < len(d_cols) else None
        if s == d:
            continue
        where = f"table {table}, column {i + 1}"
        s_text = f"{s[0]} {s[1]}" if s else "(none)"
        d_text = f"{d[0]} {d[1]}" if d else "(none)"
        raise SchemaMismatch(
            f"{where}: {src_name} has {s_text!r} but {dst_name} has {d_text!r}. Make the "
            f"{dst_name} table match {src_name} (same columns, order and types), or drop the "
            f"empty {dst_name} table so the next move creates it from {src_name}'s definition"
        )
    if not source.primary_key:
        raise SchemaMismatch(
            f"table {table} has no primary key in {src_name}; a move needs one to verify and "
            f"to skip rows already copied. Add one (e.g. `alter table {table} add primary key "
            "(id)`)"
        )


def added_columns(source: TableShape, dest: TableShape) -> list[str]:
    """Columns `source` has after all of `dest`'s (a column added later, at the end, in core);
    [] when `dest`'s columns are not exactly the first ones of `source` (a real mismatch)."""
    s_cols, d_cols = list(source.columns.items()), list(dest.columns.items())
    if len(s_cols) <= len(d_cols) or s_cols[: len(d_cols)] != d_cols:
        return []
    return [name for name, _ in s_cols[len(d_cols):]]

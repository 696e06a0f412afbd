"""PostgreSQL values as persys's readers hand them to Python, the same from every tier.

A reader returns what psycopg returns (Decimal, timedelta, bytes, lists for arrays …), with
one exception: a date or timestamp Python cannot hold (±infinity, a BC date, a five-digit
year) comes as its PostgreSQL text (`'-infinity'`, `'0044-03-15 BC'`), where psycopg would
fail the whole read. `lenient_adapters` is psycopg's adapter map with those loaders; a
reader's connection uses it (`use_lenient`), and values an archive file keeps as PostgreSQL
text are loaded with the same loaders (`from_text`), so a row reads the same from core, main
and the archive.
"""

from __future__ import annotations

import functools
import re

import psycopg
from psycopg.adapt import AdaptersMap, Loader, Transformer
from psycopg.pq import Format
from psycopg.types import datetime as pg_datetime

# types whose text is the Python value itself: no loader needed (the reader's fast path)
TEXT_TYPES = {"text", "character varying", "character", "name", "citext", "xml"}


def _lenient(base: type[Loader]) -> type[Loader]:
    class Lenient(base):  # type: ignore[misc, valid-type]
        """`base`, or the PostgreSQL text where Python has no such date or time."""

        def load(self, data):
            try:
                return super().load(data)
            except psycopg.DataError:
                return bytes(data).decode()

    Lenient.__name__ = f"Lenient{base.__name__}"
    return Lenient


@functools.cache
def lenient_adapters() -> AdaptersMap:
    """psycopg's global adapters, with dates and timestamps Python cannot hold kept as text."""
    adapters = AdaptersMap(psycopg.adapters)
    for oid_name, base in (("date", pg_datetime.DateLoader),
                           ("timestamp", pg_datetime.TimestampLoader),
                           ("timestamptz", pg_datetime.TimestamptzLoader)):
        adapters.register_loader(oid_name, _lenient(base))
    return adapters


def use_lenient(conn: psycopg.Connection) -> None:
    """This connection's text results load dates and timestamps leniently (module doc)."""
    for oid_name in ("date", "timestamp", "timestamptz"):
        conn.adapters.register_loader(oid_name, lenient_adapters().get_loader(
            psycopg.adapters.types[oid_name].oid, Format.TEXT))


def _oid(pg_type: str) -> int | None:
    """The type's oid as psycopg knows it (None: a type psycopg has no loader for)."""
    stem = re.sub(r"\([^)]*\)", "", pg_type).strip()
    is_array = stem.endswith("[]")
    info = psycopg.adapters.types.get(stem.removesuffix("[]").strip())
    if info is None:
        return None
    return info.array_oid if is_array else info.oid


def needs_loader(pg_type: str) -> bool:
    """Is a `pg_type` value something other than its text in Python (a date, bytes, …)?"""
    return pg_type not in ("json", "jsonb") and _oid(pg_type) is not None and (
        re.sub(r"\(.*\)", "", pg_type) not in TEXT_TYPES)


def from_text(values: list, pg_type: str) -> list:
    """PostgreSQL text forms of `pg_type` values → what a reader gets from a tier (module doc);
    unknown types (an enum) stay text, as psycopg returns them."""
    if not needs_loader(pg_type):
        return values
    oid = _oid(pg_type)
    loader = Transformer(lenient_adapters()).get_loader(oid, Format.TEXT)
    return [None if v is None else loader.load(v.encode()) for v in values]

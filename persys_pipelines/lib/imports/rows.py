"""Normalized rows: what every parser yields, whatever the file it reads.

A parser yields `(key, day, values)`:
- `key`: the row's natural key as text (Apple Health: type, source, start, end, value; OFX:
  account and FITID; ics: UID and RECURRENCE-ID; Day One: the entry's UUID; Markdown: path and
  front-matter date). The key column gets `row_id(key)`, a UUID (version 3, RFC 4122) of it,
  so the same record always gets the same id and importing it again adds nothing.
- `day`: the calendar day the row belongs to, as the table's day column gives it in the
  configured zone (what routes it to core, main or the archive).
- `values`: one text per field of the source's stream (`STREAMS`), in PostgreSQL's input
  syntax, or None; the mapping in persys.yaml (`imports:`) says which column gets which.

Values stay text on purpose: PostgreSQL parses them into whatever type the person's column
has (a timestamp with its offset, a numeric, a text[] literal), so no value is converted
twice and a column of another type than the sample schema's works unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ..config.imports import STREAMS
from ..errors import PersysError

__all__ = ["STREAMS", "ImportFileError", "Row", "Tally", "copy_line", "row_id"]

NAMESPACE = uuid.UUID("6f1c3b0e-9a53-4d0c-8b8e-5f2d4c1a7e90")  # persys imports
_NS = NAMESPACE.bytes
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}

Row = tuple[str, dt.date, tuple[str | None, ...]]


class ImportFileError(PersysError):
    """A file cannot be imported as it is; the message names the file, the record or line, and
    what is wrong. Nothing of the file was imported."""

    exit_code = 7


@dataclass
class Tally:
    """What a parser saw besides its rows: skipped (kept out on purpose, by what) and dropped
    (could not be used, by why), each with counts; `notes` for the coverage report."""

    records: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # read, and imported in another shape
    skipped: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def see(self, what: str, n: int = 1) -> None:
        self.seen[what] = self.seen.get(what, 0) + n

    def skip(self, what: str, n: int = 1) -> None:
        self.skipped[what] = self.skipped.get(what, 0) + n

    def drop(self, why: str, n: int = 1) -> None:
        self.dropped[why] = self.dropped.get(why, 0) + n

    def absorb(self, other: Tally) -> None:
        """Add what another reader of the same file saw (lib/imports/parts.py)."""
        self.records += other.records
        for mine, theirs in ((self.seen, other.seen), (self.skipped, other.skipped),
                             (self.dropped, other.dropped)):
            for what, n in theirs.items():
                mine[what] = mine.get(what, 0) + n
        self.notes += [n for n in other.notes if n not in self.notes]


def row_id(key: str) -> str:
    """`str(uuid.uuid3(NAMESPACE, key))` without dashes (PostgreSQL reads both), at a third of
    the cost: Apple Health makes one per record."""
    h = hashlib.md5(_NS + key.encode(), usedforsecurity=False).hexdigest()
    return f"{h[:12]}3{h[13:16]}{_VARIANT[h[16]]}{h[17:]}"


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str | None) -> str:
    """One value in COPY's text format."""
    return "\\N" if value is None else value.translate(_ESCAPES)


def copy_line(values: Iterable[str | None]) -> str:
    return "\t".join(map(copy_text, values)) + "\n"


def text_array(items: Iterable[str]) -> str:
    """A PostgreSQL array literal of texts (`{"a","b \\"c\\""}`)."""
    quoted = ('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in items)
    return "{" + ",".join(quoted) + "}"


def numbered(rows: Iterable[Row]) -> Iterator[Row]:
    """Rows whose natural key repeats within one file on purpose (two identical coffees on the
    same day in a bank CSV) get the occurrence number appended, so they stay two rows and a
    newer export of the same days gives the same keys."""
    seen: dict[str, int] = {}
    for key, day, values in rows:
        n = seen.get(key, 0)
        seen[key] = n + 1
        yield (key if n == 0 else f"{key}#{n}"), day, values

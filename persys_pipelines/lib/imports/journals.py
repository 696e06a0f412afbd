"""Journals: Day One's JSON export and Markdown notes with front matter.

Day One (`Journal.json`, or the export zip with one JSON per journal) is read entry by entry
with ijson, so a journal of any size stays out of memory; the key is the entry's UUID and its
day is the day it was written where it was written (the entry's own `timeZone`).
Markdown (a folder of `.md` files, or one file) is read with python-frontmatter: the day from
`date:` (or a `YYYY-MM-DD` in the file name), the title from `title:` or the first heading,
`tags:` and `mood:` (1-10) when present; the key is the file's path in the folder and its
date. A note without a date is dropped and counted; broken front matter is an error naming
the file and line.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .rows import ImportFileError, Row, Tally, text_array

_DATED = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def _title_and_body(text: str) -> tuple[str | None, str]:
    first, _, rest = text.lstrip().partition("\n")
    if first.startswith("#"):
        return first.lstrip("#").strip() or None, text
    return None, text


# ---------------------------------------------------------------------------------------------
# Day One


def _dayone_streams(path: Path, name: str) -> Iterator[tuple[IO[bytes], str]]:
    if path.stat().st_size == 0:
        raise ImportFileError(f"{name}: the file is empty; export the journal again")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            found = [n for n in archive.namelist() if n.endswith(".json")]
            if not found:
                raise ImportFileError(f"{name}: no journal JSON in the zip; is this a Day One "
                                      "export?")
            for member in found:
                with archive.open(member) as stream:
                    yield stream, f"{name}!{member}"
        return
    with open(path, "rb") as stream:
        yield stream, name


def parse_dayone(path: Path, zone: ZoneInfo, tally: Tally) -> Iterator[Row]:
    import ijson

    name = str(path)
    for stream, label in _dayone_streams(path, name):
        n = 0
        try:
            for entry in ijson.items(stream, "entries.item"):
                n += 1
                tally.records += 1
                row = _dayone_row(entry, zone, tally, label, n)
                if row is not None:
                    yield row
        except ijson.JSONError as exc:
            raise ImportFileError(f"{label}: not valid JSON after entry {n}: {exc}; nothing "
                                  "was imported. Export the journal again") from None
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise ImportFileError(f"{label}: could not be read to its end ({exc})") from None
        if n == 0:
            tally.notes.append(f"{label}: no entries")


def _dayone_row(entry: dict, zone: ZoneInfo, tally: Tally, label: str, n: int) -> Row | None:
    uid, created = entry.get("uuid"), entry.get("creationDate")
    if not uid or not created:
        tally.drop("Day One entries without uuid or creationDate")
        return None
    try:
        at = dt.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        raise ImportFileError(f"{label}: entry {n} ({uid}): creationDate {created!r} is not a "
                              "date") from None
    try:
        where = ZoneInfo(entry["timeZone"]) if entry.get("timeZone") else zone
    except (ZoneInfoNotFoundError, ValueError):
        where = zone
    at = at if at.tzinfo else at.replace(tzinfo=where)
    day = at.astimezone(where).date()
    title, body = _title_and_body(str(entry.get("text") or ""))
    tags = [str(t) for t in entry.get("tags") or []]
    return (f"dayone|{uid}", day, (day.isoformat(), at.isoformat(), title, body,
                                   text_array(tags), None))


# ---------------------------------------------------------------------------------------------
# Markdown


def parse_markdown(path: Path, zone: ZoneInfo, tally: Tally) -> Iterator[Row]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.md") if p.is_file())
    if not files:
        raise ImportFileError(f"{path}: no .md files")
    base = path.parent if path.is_file() else path
    for file in files:
        tally.records += 1
        row = _markdown_row(file, file.relative_to(base).as_posix(), zone, tally)
        if row is not None:
            yield row


def _markdown_row(file: Path, rel: str, zone: ZoneInfo, tally: Tally) -> Row | None:
    import frontmatter
    import yaml

    try:
        note = frontmatter.loads(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 2}" if mark else ""
        raise ImportFileError(f"{file}:{where}: the front matter is not valid YAML "
                              f"({getattr(exc, 'problem', exc)}); fix it, nothing was "
                              "imported") from None
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{file}: not UTF-8 text ({exc.reason})") from None
    meta = note.metadata
    day, at = _note_day(meta.get("date"), rel, zone)
    if day is None:
        tally.drop("notes without a date (front matter date: or YYYY-MM-DD in the name)")
        return None
    title = meta.get("title")
    heading, body = _title_and_body(note.content)
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    mood = meta.get("mood")
    if not (isinstance(mood, int) and 1 <= mood <= 10):
        if mood is not None:
            tally.drop("mood values outside 1-10 (the note is kept, without its mood)")
        mood = None
    return (f"markdown|{rel}|{day}", day,
            (day.isoformat(), at.isoformat(), str(title or heading or Path(rel).stem), body,
             text_array(str(t) for t in tags), None if mood is None else str(mood)))


def _note_day(value, rel: str, zone: ZoneInfo) -> tuple[dt.date | None, dt.datetime]:
    if isinstance(value, dt.datetime):
        at = value if value.tzinfo else value.replace(tzinfo=zone)
        return at.astimezone(zone).date(), at
    if isinstance(value, dt.date):
        return value, dt.datetime.combine(value, dt.time(), zone)
    text = str(value) if value is not None else Path(rel).name
    m = _DATED.search(text)
    if not m:
        return None, dt.datetime.now(zone)
    try:
        day = dt.date(*(int(x) for x in m.groups()))
    except ValueError:
        return None, dt.datetime.now(zone)
    return day, dt.datetime.combine(day, dt.time(), zone)

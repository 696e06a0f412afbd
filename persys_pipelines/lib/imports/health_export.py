"""Apple Health's export file: export.xml alone or in the Health app's zip, and its parts.

`open_export` gives the export.xml stream whichever the person has; `split` says where two
readers can share a big one (lib/imports/parts.py), and `feed` gives the bytes of one part as
a document of its own.
"""

from __future__ import annotations

import itertools
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .rows import ImportFileError, Tally

SKIPPED_FILES = {
    "electrocardiograms/": "ECG recordings (electrocardiograms/*.csv: waveforms, not metrics)",
    "workout-routes/": "workout route files (workout-routes/*.gpx)",
    "clinical-records/": "clinical record files (clinical-records/*.json)",
}


def open_export(path: Path, tally: Tally) -> tuple[IO[bytes], str]:
    """The export.xml stream of `path` (a zip from the Health app, or the XML itself) and the
    name to show in errors; files of the zip that are not imported are counted as skipped."""
    if path.stat().st_size == 0:
        raise ImportFileError(f"{path}: the file is empty; export again from the Health app "
                              "(Profile → Export All Health Data)")
    if not zipfile.is_zipfile(path):
        if _starts_zip(path):
            raise ImportFileError(f"{path}: a zip file that is truncated or damaged (its "
                                  "directory is missing); copy or export it again")
        return open(path, "rb"), str(path)
    try:
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(f"{path}: the zip cannot be read ({exc}); copy or export it "
                              "again") from None
    xml = [n for n in names if n.rsplit("/", 1)[-1] == "export.xml"]
    if not xml:
        raise ImportFileError(f"{path}: no export.xml in the zip (found {len(names)} files); "
                              "is this the Health app's export.zip?")
    for name in names:
        for folder, what in SKIPPED_FILES.items():
            if f"/{folder}" in f"/{name}" and not name.endswith("/"):
                tally.skip(what)
    return archive.open(xml[0]), f"{path}!{xml[0]}"


def _starts_zip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


CHUNK = 1 << 20  # bytes fed to the parser at a time (a few thousand records)
SPLIT_MIN = 64 << 20  # bytes of export.xml from which two processes read it (lib/imports/parts.py)
_ROOT = re.compile(rb"<HealthData[\s>/]")
_TOP = re.compile(rb"\n <[A-Za-z]")  # a top-level element's start, as the Health app indents


@dataclass(frozen=True)
class Part:
    """One reader's share of export.xml, parsed as a document of its own: the file's head
    (declaration, DTD, the root's start tag: `head` bytes; 0 for the first part, which starts
    there) then bytes [start, end) — whole top-level elements — and, when `end` is not the
    file's end, the root's end tag."""

    head: int
    start: int
    end: int | None


def split(path: Path, parts: int = 2) -> list[Part] | None:
    """Where `parts` readers can share the export: each at the start of a top-level element
    (a line ` <Name`, the Health app's one-space indent) near an equal share of the records
    (`_cuts`; of the bytes inside a zip, whose member cannot be sampled cheaply). None for an
    export under SPLIT_MIN, or one not laid out that way (read by one process)."""
    tally = Tally()  # files of the zip are counted by the reader, not here
    try:
        stream, _ = open_export(path, tally)
    except ImportFileError:
        return None  # reported by the reader
    zipped = zipfile.is_zipfile(path)
    with stream:
        size = _size(path, stream, zipped)
        if size < SPLIT_MIN:
            return None
        stream.seek(0)
        first = stream.read(CHUNK)
        root = _ROOT.search(first)
        top = _TOP.search(first, root.end()) if root else None
        if top is None:
            return None
        head, starts = top.start() + 1, [0]
        for cut in (_cuts(stream, size, parts) if not zipped else
                    [size * k // parts for k in range(1, parts)]):
            stream.seek(cut)
            found = _TOP.search(stream.read(4 * CHUNK))
            if found is None:
                return None
            starts.append(cut + found.start() + 1)
    if any(b <= max(a, head) for a, b in itertools.pairwise(starts)):
        return None  # shares that would overlap (or start inside the head): one reader
    ends: list[int | None] = [*starts[1:], None]
    return [Part(head if k else 0, start, ends[k]) for k, start in enumerate(starts)]


SAMPLES, SAMPLE = 64, 1 << 18  # windows read to see where the records are, and their bytes


def _cuts(stream: IO[bytes], size: int, parts: int) -> list[int]:
    """Offsets that share the reading work equally, estimated from `SAMPLES` evenly spaced
    windows: a record's Python work is what a reader spends its time on, and the bytes per
    record differ along the file (types come one after the other, some with per-beat lists
    or metadata): equal bytes of bench/import.py's export were 0.93 million records against
    1.07 million."""
    step = size / SAMPLES
    density = []
    for k in range(SAMPLES):
        stream.seek(int(k * step))
        window = stream.read(SAMPLE)
        # a record's work (parsed, spooled) is ~10 times that of any other tag (per-beat lists,
        # metadata, end tags: a parser callback each); +1: never zero
        density.append(9 * window.count(b"<Record ") + window.count(b"<") + 1)
    total, cuts = sum(density), []
    for k in range(1, parts):
        wanted, seen, i = total * k / parts, 0.0, 0
        while seen + density[i] < wanted:
            seen += density[i]
            i += 1
        cuts.append(int((i + (wanted - seen) / density[i]) * step))
    return cuts


def _size(path: Path, stream: IO[bytes], zipped: bool) -> int:
    """Bytes of export.xml, without reading it (a zip member's size is in the zip's directory)."""
    if not zipped:
        return stream.seek(0, 2) if stream.seekable() else 0
    with zipfile.ZipFile(path) as archive:
        sizes = [i.file_size for i in archive.infolist()
                 if i.filename.rsplit("/", 1)[-1] == "export.xml"]
    return sizes[0] if sizes else 0


def feed(stream: IO[bytes], part: Part | None) -> Iterator[bytes]:
    """The bytes the parser reads: the whole stream, or a part as a document of its own."""
    if part is None:
        while chunk := stream.read(CHUNK):
            yield chunk
        return
    if part.head:
        stream.seek(0)
        yield stream.read(part.head)
    stream.seek(part.start)
    left = None if part.end is None else part.end - part.start
    while left is None or left > 0:
        chunk = stream.read(CHUNK if left is None else min(CHUNK, left))
        if not chunk:
            break
        if left is not None:
            left -= len(chunk)
        yield chunk
    if part.end is not None:
        yield b"</HealthData>"

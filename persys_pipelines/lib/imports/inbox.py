"""The inbox: a folder where a person drops exports; the `imports_inbox` sensor imports each
new file once (its run key is the file's sha256, so the same file dropped again, renamed or
not, starts nothing).

A file's kind comes from the sub-folder it is in (`inbox/<kind>/…`, any of the import kinds)
or else from its name (`export.zip`/`export.xml` → apple-health, `.ofx`/`.qfx` → ofx, `.csv`
→ csv, `.ics` → ics, `.json` or a zip with a `.json` journal → dayone, `.md` → markdown).
A file still being copied (changed in the last `SETTLE_S` seconds) waits for the next tick;
hashes are remembered by (path, size, mtime) in the sensor's cursor, so a multi-gigabyte
export is hashed once.
"""

from __future__ import annotations

import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..config.imports import KINDS
from .run import file_sha256

SETTLE_S = 30.0
SUFFIXES = {".ofx": "ofx", ".qfx": "ofx", ".csv": "csv", ".ics": "ics", ".md": "markdown"}


@dataclass(frozen=True)
class InboxFile:
    path: Path
    kind: str
    sha256: str


def kind_of(path: Path, inbox: Path) -> str | None:
    parts = path.relative_to(inbox).parts
    if len(parts) > 1 and parts[0] in KINDS:
        return parts[0]
    name, suffix = path.name.lower(), path.suffix.lower()
    if name in ("export.zip", "export.xml"):
        return "apple-health"
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    if suffix == ".json":
        return "dayone"
    if suffix == ".zip" and zipfile.is_zipfile(path):
        names = zipfile.ZipFile(path).namelist()
        if any(n.endswith("export.xml") for n in names):
            return "apple-health"
        if any(n.endswith(".json") for n in names):
            return "dayone"
    return None


def scan(inbox: Path, cursor: str | None, *, now: float | None = None
         ) -> tuple[list[InboxFile], list[str], str]:
    """New-or-known files ready to import, files of no known kind, and the new cursor."""
    known: dict[str, str] = json.loads(cursor) if cursor else {}
    now = time.time() if now is None else now
    found, unknown, seen = [], [], {}
    if not inbox.is_dir():
        return [], [], json.dumps({})
    for path in sorted(p for p in inbox.rglob("*") if p.is_file()):
        if path.name.startswith("."):
            continue
        stat = path.stat()
        if now - stat.st_mtime < SETTLE_S:
            continue  # still being written
        kind = kind_of(path, inbox)
        if kind is None:
            unknown.append(str(path))
            continue
        ident = f"{path}|{stat.st_size}|{int(stat.st_mtime)}"
        sha = known.get(ident) or file_sha256(path)
        seen[ident] = sha
        found.append(InboxFile(path, kind, sha))
    return found, unknown, json.dumps(seen)

"""A big Apple Health export read by two processes, one part each.

Reading is Python work per record (libxml2 calls back per element): one core's worth, and
nothing else runs while the file is read (delivery starts once it has been read whole), so a
second core would sit idle. An export of `health_export.SPLIT_MIN` bytes or more is split at a
top-level element where each gets half the work (`health_export.split`); this process reads
the first part into the import's spool, a child process reads the second into a spool folder
of its own, which is then appended to the first. Every top-level element is read whole by
exactly one part (a Correlation with its children, a Workout with its statistics), so rows,
keys, counts and the tally are those one reader would make.

Either part failing for any reason (a broken file, a layout the split misjudged, the child
killed) returns None: the caller then reads the file whole in one process, and the file's
own error, with its true line number, comes from that reading. A child stops when its parent
is gone (a killed import), within one chunk of rows.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from . import apple_health, health_export
from .rows import Row, Tally
from .spool import Spool, Spooled

log = logging.getLogger(__name__)
SECOND = "part-2"  # the child's spool folder, inside the import's
CHECK_EVERY = 1 << 16  # rows between the child's looks at its parent
PACKAGE_ROOT = Path(__file__).resolve().parents[3]  # the folder holding persys_pipelines/


def read_in_parts(path: Path, zone: ZoneInfo, make_spool: Callable[[Path], Spool],
                  folder: Path) -> tuple[Spooled, Tally] | None:
    """The export's rows spooled into `folder` by two readers, and what they saw; None when
    the export is not split (small, or not laid out as the Health app writes it), there is one
    core only, or a part failed (module doc).

    The child is `python -m` this module, not a multiprocessing child: those re-run the
    parent's main script when it has no `if __name__ == "__main__"` guard."""
    if (os.cpu_count() or 1) < 2:
        return None
    parts = health_export.split(path)
    if parts is None:
        return None
    tally = Tally()
    spool = make_spool(folder)
    theirs = folder / SECOND
    theirs.mkdir(parents=True, exist_ok=True)
    task = theirs / "task.pickle"
    task.write_bytes(pickle.dumps((path, zone.key, parts[1], make_spool, theirs, os.getpid())))
    env = os.environ | {"PYTHONPATH": os.pathsep.join(
        p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)}
    with open(theirs / "stderr.txt", "wb") as errors:
        try:
            child = subprocess.Popen([sys.executable, "-m", __name__, str(task)], env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=errors)
        except OSError as exc:
            log.warning("%s: no second reader (%s); reading the file in one process", path, exc)
            return None
        try:
            mine: Spooled | None = spool.add_all(apple_health.parse(path, zone, tally, parts[0]))
        except Exception:  # noqa: BLE001 - read again whole: that reading reports it
            spool.finish()
            child.kill()  # its part is not needed any more
            mine = None
        except BaseException:
            child.kill()
            raise
        finally:
            returncode = child.wait()
    if mine is not None and returncode != 0:
        why = _last_line(theirs / "stderr.txt") or f"exit status {returncode}"
        log.log(logging.INFO if "ImportFileError" in why else logging.WARNING,
                "%s: the second reader stopped (%s); reading the file again in one process",
                path, why)
    if mine is None or returncode != 0:
        return None
    their_spooled, their_tally = pickle.loads((theirs / "result.pickle").read_bytes())
    tally.absorb(their_tally)
    spooled = spool.absorb(their_spooled)
    shutil.rmtree(theirs, ignore_errors=True)
    return spooled, tally


def _last_line(path: Path) -> str:
    lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return lines[-1][:300] if lines else ""


def _read_part(path: Path, zone: str, part: health_export.Part,
               make_spool: Callable[[Path], Spool], folder: Path,
               parent: int) -> tuple[Spooled, Tally]:
    """The child's work: one part into its own spool folder."""
    tally = Tally()
    rows = apple_health.parse(path, ZoneInfo(zone), tally, part)
    return make_spool(folder).add_all(_while_alive(rows, parent)), tally


def _while_alive(rows: Iterator[Row], parent: int) -> Iterator[Row]:
    for n, row in enumerate(rows):
        if not n % CHECK_EVERY and os.getppid() != parent:
            raise SystemExit("the import that started this reader is gone")
        yield row


if __name__ == "__main__":
    TASK = Path(sys.argv[1])
    RESULT = _read_part(*pickle.loads(TASK.read_bytes()))
    (TASK.parent / "result.pickle").write_bytes(pickle.dumps(RESULT))

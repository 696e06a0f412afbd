"""The spool: a file's rows, routed and sorted into batches on local disk before delivery.

A parser reads the whole file first; its rows go to one file of COPY text rows per tier and
month (`moves.import_plan.Batch`), in a folder of their own under `<home>/imports/spool/`.
Only a file read to its end without error is delivered, so a broken file leaves nothing
half-imported (and the tiers see nothing of it). Memory holds a few open files' buffers,
whatever the export's size: Apple Health's records come grouped by type, each type visiting
every month, so rows cannot be delivered month by month as they are read. About a quarter of
the XML's size on disk, removed after delivery.
"""

from __future__ import annotations

import datetime as dt
import operator
import os
import shutil
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..config import TablePolicy
from ..moves.import_plan import Batch, tier_of
from .rows import Row, row_id

MAX_OPEN = 64  # spool files kept open at once (least recently used closed first)
BUFFER = 1 << 16


@dataclass
class Spooled:
    """What was spooled: batches, and per (label, tier) the rows planned (label: the metric,
    or the kind of rows), and the rows dropped by the policy (past delete_days)."""

    batches: list[Batch] = field(default_factory=list)
    planned: dict[tuple[str, str], int] = field(default_factory=dict)
    past_retention: int = 0
    first_day: dt.date | None = None
    last_day: dt.date | None = None

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)


class Spool:
    """Route rows by day (import_plan.tier_of) into per-tier, per-month COPY files."""

    def __init__(self, folder: Path, table: str, policy: TablePolicy, today: dt.date,
                 key_column: str, columns: list[tuple[int, str]], label: int | None,
                 key_has_day: bool = False):
        self.folder, self.table, self.policy, self.today = folder, table, policy, today
        self.key_has_day = key_has_day  # Batch.key_has_day
        self.columns = (key_column, *(c for _, c in columns))
        self.picks = [i for i, _ in columns]
        self.label = label
        self.open: OrderedDict[tuple[str, dt.date], _Route] = OrderedDict()
        self.routes: dict[tuple[str, dt.date], _Route] = {}  # (tier, month) → its file
        self.planned: dict[str, dict[str, int]] = {}  # tier → label → rows
        self.out = Spooled()
        folder.mkdir(parents=True, exist_ok=True)

    def add_all(self, rows: Iterable[Row]) -> Spooled:
        """Spool every row (the loop is this import's hottest Python: one pass per record, so
        each day's tier, month file and counters are looked up once per day, not per row)."""
        pick = _picker(self.picks)
        width, label = len(self.picks), self.label
        days: dict[dt.date, _Route | None] = {}
        for key, day, values in rows:
            route = days.get(day, _UNSEEN)
            if route is _UNSEEN:
                route = days[day] = self._route(day)
            if route is None:
                self.out.past_retention += 1
                continue
            chosen = pick(values)
            if None in chosen:
                chosen = ["\\N" if v is None else v for v in chosen]
            line = "\t".join(chosen)
            if "\\" in line or "\n" in line or "\r" in line or line.count("\t") != width - 1:
                line = _escaped(values, self.picks)
            handle = route.handle or self._handle(route)
            handle.write(f"{row_id(key)}\t{line}\n")
            route.rows += 1
            what = values[label] if label is not None else self.table
            route.planned[what] = route.planned.get(what, 0) + 1
        return self.finish()

    def _route(self, day: dt.date) -> _Route | None:
        """Where rows of `day` go (None: past retention), made once per day."""
        self._span(day)
        tier = tier_of(self.policy, self.today, day)
        if tier is None:
            return None
        return self._bucket((tier, day.replace(day=1)))

    def _bucket(self, bucket: tuple[str, dt.date]) -> _Route:
        """The one `_Route` of a (tier, month) file, made on first use."""
        route = self.routes.get(bucket)
        if route is None:
            route = self.routes[bucket] = _Route(bucket, self.planned.setdefault(bucket[0], {}))
        return route

    def absorb(self, other: Spooled) -> Spooled:
        """Another reader's spool of the same file (lib/imports/parts.py), once both are
        finished: its files appended to ours, its counts added."""
        for batch in other.batches:
            bucket = (batch.tier, batch.month)
            with open(self._path(bucket), "ab") as out, open(batch.path, "rb") as rows:
                shutil.copyfileobj(rows, out, 1 << 20)
            self._bucket(bucket).rows += batch.rows
        for (what, tier), n in other.planned.items():
            mine = self.planned.setdefault(tier, {})
            mine[what] = mine.get(what, 0) + n
        self.out.past_retention += other.past_retention
        for day in (other.first_day, other.last_day):
            if day is not None:
                self._span(day)
        return self.finish()

    def _span(self, day: dt.date) -> None:
        out = self.out
        out.first_day = day if out.first_day is None else min(out.first_day, day)
        out.last_day = day if out.last_day is None else max(out.last_day, day)

    def _handle(self, route: _Route) -> IO[str]:
        if len(self.open) >= MAX_OPEN:
            _, oldest = self.open.popitem(last=False)
            assert oldest.handle is not None
            oldest.handle.close()
            oldest.handle = None
        route.handle = open(self._path(route.bucket), "a", encoding="utf-8",  # noqa: SIM115
                            buffering=BUFFER)
        self.open[route.bucket] = route
        return route.handle

    def _path(self, bucket: tuple[str, dt.date]) -> Path:
        tier, month = bucket
        return self.folder / f"{tier}-{month:%Y-%m}.copy"

    def finish(self) -> Spooled:
        for route in self.open.values():
            if route.handle is not None:
                route.handle.close()
                route.handle = None
        self.open.clear()
        self.out.batches = [Batch(self.table, tier, month, self.columns,
                                  self._path((tier, month)), route.rows, self.key_has_day)
                            for (tier, month), route in sorted(self.routes.items())]
        self.out.planned = {(what, tier): n for tier, per in self.planned.items()
                            for what, n in per.items()}
        return self.out


class _Route:
    """One day's destination in the spool: its (tier, month) file and counters."""

    __slots__ = ("bucket", "handle", "planned", "rows")

    def __init__(self, bucket: tuple[str, dt.date], planned: dict[str, int]):
        self.bucket, self.planned, self.rows = bucket, planned, 0
        self.handle: IO[str] | None = None


_UNSEEN = object()


def _picker(picks: list[int]) -> Callable[[tuple], tuple]:
    """The chosen fields of a row's values, as a tuple (itemgetter: no Python per field)."""
    if len(picks) == 1:
        only = picks[0]
        return lambda values: (values[only],)
    return operator.itemgetter(*picks)


def _escaped(values: tuple, picks: list[int]) -> str:
    from .rows import copy_text

    return "\t".join(copy_text(values[i]) for i in picks)


def spool_folder(root: Path, sha256: str) -> Path:
    """A fresh folder for one import in this process; folders of processes that are gone
    (a killed import) are removed first."""
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        pid = old.name.rpartition("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    folder = root / f"{sha256[:16]}-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

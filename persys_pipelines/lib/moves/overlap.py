"""Month k's file is written while month k+1 is exported.

Archiving a month is an export (PostgreSQL's COPY and Arrow's CSV parse: mostly the server's
and Arrow's threads), then a file (Parquet encoding, zstd, sha256, the store's write and the
read-back: mostly Arrow and hashlib, which release the GIL), then a commit. Done one after the
other, one of the two cores idles through each half; `overlapped` runs the file of one month
on a worker thread while this thread exports the next, and commits in month order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
E = TypeVar("E")
W = TypeVar("W")


def overlapped(items: Iterable[T], export: Callable[[T], E | None],
               write: Callable[[E], W], commit: Callable[[E, W], None]) -> None:
    """For each item in order: `export(item)` here (None: nothing to write), `write(exported)`
    on a worker thread while the next item is exported, then `commit(exported, written)` here.

    An export that fails still lets the item before it commit (once its write is done) before
    the error is raised, so one month that cannot be archived never holds back the month
    before it. A failed write raises at its commit; nothing after it is committed."""
    with ThreadPoolExecutor(1, thread_name_prefix="persys-archive-file") as pool:
        writing: list[tuple[E, Future[W]]] = []

        def finish() -> None:
            if writing:
                exported, future = writing.pop()
                commit(exported, future.result())

        for item in items:
            try:
                exported = export(item)
            except Exception:
                finish()
                raise
            finish()
            if exported is not None:
                writing.append((exported, pool.submit(write, exported)))
        finish()

"""Writing a `COPY … FROM STDIN` on a thread of its own, so the relay reads one server while
the other is written (the two servers and the relay then share the cores as a psql pipe's
two processes do).

psycopg's own `QueuedLibpqWriter` does the same with a queue of 1,024 buffers (128 MB at the
relay's batch size: memory would grow with a fast reader); this one holds `depth` batches.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from psycopg import Cursor
from psycopg.copy import LibpqWriter


class QueuedWriter(LibpqWriter):
    """A `Writer` for `cursor.copy(…, writer=QueuedWriter(cursor))`: `write` hands the batch
    to a worker thread (waiting while `depth` batches are queued); `finish` waits for it and
    raises what it raised."""

    def __init__(self, cursor: Cursor[Any], depth: int = 16) -> None:
        super().__init__(cursor)
        self._batches: queue.Queue[bytes | bytearray | None] = queue.Queue(maxsize=depth)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _drain(self) -> None:
        try:
            while (data := self._batches.get()) is not None:
                LibpqWriter.write(self, data)
        except BaseException as exc:  # reported to the writer's thread by write/finish
            self._error = exc
            while self._batches.get() is not None:  # keep write() from blocking on put()
                pass

    def write(self, data: Any) -> None:
        if self._error is not None:
            raise self._error
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="persys-copy-in",
                                            daemon=True)
            self._thread.start()
        self._batches.put(data)

    def finish(self, exc: BaseException | None = None) -> None:
        if self._thread is not None:
            self._batches.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None and exc is None:
            raise self._error
        super().finish(exc)

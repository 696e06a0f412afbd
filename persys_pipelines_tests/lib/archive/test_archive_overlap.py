"""Month k's file is written while month k+1 is exported: months still commit in order, one
bad month never takes the month before it down, and every row ends in exactly one place."""

from __future__ import annotations

import threading
import time

import pytest

from persys_pipelines import handles
from persys_pipelines.lib.archive import manifest
from persys_pipelines.lib.archive.objects import StoreError
from persys_pipelines.lib.moves.overlap import overlapped
from persys_pipelines_tests.archive_helpers import LATER, count, rows_in_main, snapshot

from .test_archive_crash import TABLE, assert_whole


def test_a_write_runs_while_the_next_export_does_and_commits_keep_their_order():
    events: list[str] = []
    writing = threading.Event()

    def export(i: int) -> int:
        if i == 2:  # month 1's write has started on the worker before month 2's export ends
            assert writing.wait(5), "the write of the month before did not overlap"
        events.append(f"export {i}")
        return i

    def write(i: int) -> str:
        writing.set()
        time.sleep(0.05)
        return f"file {i}"

    overlapped([1, 2, 3], export, write, lambda i, w: events.append(f"commit {i} {w}"))
    assert [e for e in events if e.startswith("commit")] == [
        "commit 1 file 1", "commit 2 file 2", "commit 3 file 3"]
    assert events.index("export 2") < events.index("commit 1 file 1")


def test_a_failed_export_still_commits_the_month_before_and_a_failed_write_stops_all():
    committed: list[int] = []

    def export(i: int) -> int | None:
        if i == 3:
            raise ValueError("month 3 cannot be exported")
        return None if i == 2 else i  # month 2: nothing due

    with pytest.raises(ValueError, match="month 3"):
        overlapped([1, 2, 3, 4], export, lambda i: i, lambda i, _: committed.append(i))
    assert committed == [1]

    committed.clear()

    def write(i: int) -> int:
        if i == 2:
            raise OSError("disk full")
        return i

    with pytest.raises(OSError, match="disk full"):
        overlapped([1, 2, 3], lambda i: i, write, lambda i, _: committed.append(i))
    assert committed == [1], "nothing after a failed write commits"


def test_a_store_failing_mid_run_leaves_each_row_in_one_place_and_a_rerun_finishes(cfg):
    """The archive folder of March is a file (a broken mount, a stray copy): February is
    archived, March stays in main with nothing deleted, April (exported while March's file was
    being written) is not committed either; once the folder is fixed, a re-run finishes."""
    rows_in_main(cfg)
    before = snapshot(cfg, TABLE)
    root = cfg.home / "archive" / TABLE / "2024"
    root.mkdir(parents=True)
    (root / "03").write_text("not a folder")

    with pytest.raises(StoreError, match="cannot write .*2024/03.*File exists.*mounted"):
        handles.archive_due(cfg, LATER, tables=[TABLE])
    doc = manifest.read_manifest(handles.archive_stores(cfg).active, TABLE)
    assert [e.month for e in doc.files] == ["2024-02"]
    assert all(e.state == "committed" for e in doc.files)
    archived = sum(e.rows for e in doc.files)
    assert archived and count(cfg, TABLE) + archived == len(before)

    (root / "03").unlink()
    results = handles.archive_due(cfg, LATER, tables=[TABLE])
    assert [f"{r.month:%Y-%m}" for r in results] == ["2024-03", "2024-04"]
    assert count(cfg, TABLE) == 0
    assert_whole(cfg, before)

"""kill -9 during archiving and restoring: after a re-run no row is lost or doubled, no manifest
entry lacks its file and no file is left that no manifest names."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.archive import manifest, pins
from persys_pipelines.lib.moves.engine import CRASH_ENV as FAILPOINT_ENV
from persys_pipelines_tests.archive_helpers import LATER, count, rows_in_main, snapshot

TABLE = "journal_entries"
ARCHIVE = ("from persys_pipelines import handles; "
           "from persys_pipelines.lib.config import load_config; "
           f"handles.archive_due(load_config(), "
           f"__import__('datetime').date.fromisoformat('{LATER}'), tables=['{TABLE}'])")
RESTORE = ("from persys_pipelines import handles; "
           "from persys_pipelines.lib.config import load_config; import datetime as d; "
           "handles.restore(load_config(), "
           f"'{TABLE}', d.date(2024, 3, 5), d.date(2024, 4, 10))")


def run_killed(config_path, code: str, failpoint: str | None = None,
               kill_after: float | None = None) -> int:
    env = dict(os.environ, PERSYS_CONFIG=str(config_path))
    if failpoint:
        env[FAILPOINT_ENV] = failpoint
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    if kill_after is not None:
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=120)


def assert_whole(cfg, before: list[tuple]) -> None:
    """Rows in main + rows in committed archive files == what there was, each exactly once."""
    stores = handles.archive_stores(cfg)
    doc = manifest.read_manifest(stores.active, TABLE)
    files = {o.key for o in stores.active.list(f"{TABLE}/") if o.key.endswith(".parquet")}
    assert {e.key for e in doc.files} == files, "manifest and files agree"
    assert all(e.state == "committed" for e in doc.files)
    archived = sum(e.rows for e in doc.files)
    assert count(cfg, TABLE) + archived == len(before), "no row lost or doubled"
    report = handles.verify_archive(cfg)
    assert report.ok and not report.orphans and not report.pending
    if archived:
        ring = handles.keyring(cfg)
        ids = set()
        for e in doc.files:
            from persys_pipelines.lib.archive.format import read_parquet
            plain, _ = manifest.load_file(stores.active, ring, e)
            ids |= set(read_parquet(plain).column("id").to_pylist())
        assert len(ids) == archived, "no row in two files"


@pytest.mark.parametrize("failpoint", [f"main_archive.{p}" for p in (
    "after_put", "after_manifest", "before_commit", "after_commit")])
def test_kill_at_each_step_then_run_again(cfg, config_path, failpoint):
    rows_in_main(cfg)
    before = snapshot(cfg, TABLE)
    assert run_killed(config_path, ARCHIVE, failpoint) == -signal.SIGKILL
    verify = handles.verify_archive(cfg)
    if failpoint == "main_archive.after_put":
        assert verify.orphans, "the left-over file is reported"
    if failpoint != "main_archive.after_put":
        assert verify.pending, "the unsettled manifest entry is reported"
    handles.archive_due(cfg, LATER, tables=[TABLE])
    assert count(cfg, TABLE) == 0
    assert_whole(cfg, before)
    handles.restore(cfg, TABLE, dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert snapshot(cfg, TABLE) == before


def test_kill_during_restore_then_archive_again(cfg, config_path):
    rows_in_main(cfg)
    before = snapshot(cfg, TABLE)
    handles.archive_due(cfg, LATER, tables=[TABLE])
    assert run_killed(config_path, RESTORE, "archive_main.after_commit") == -signal.SIGKILL
    # the archive run settles the half-finished restore; the pin committed with the rows keeps
    # the restored days in main until they are unpinned, then they are archived again
    handles.archive_due(cfg, LATER, tables=[TABLE])
    assert_whole(cfg, before)
    assert count(cfg, TABLE) > 0
    pins.unpin(resolve_tier(cfg, "main"), TABLE)
    handles.archive_due(cfg, LATER, tables=[TABLE])
    assert_whole(cfg, before)
    assert count(cfg, TABLE) == 0


@pytest.mark.slow
def test_kill_at_random_moments(cfg, config_path):
    rows_in_main(cfg, days=90)
    before = snapshot(cfg, TABLE)
    rng = random.Random(11)
    for _ in range(12):
        run_killed(config_path, ARCHIVE, kill_after=rng.uniform(0.5, 3.0))
        assert_whole_after_rerun = None  # noqa: F841 - the check is below, after the re-run
        if rng.random() < 0.5:
            run_killed(config_path, RESTORE, kill_after=rng.uniform(0.5, 3.0))
    handles.archive_due(cfg, LATER, tables=[TABLE])
    assert_whole(cfg, before)
    handles.restore(cfg, TABLE, dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert snapshot(cfg, TABLE) == before


def test_backup_merge_after_a_killed_archive_commit_puts_nothing_back(cfg, config_path):
    """Killed after its commit, an archive run leaves its file `pending` (the rows left main,
    the ledger says so). A backup merge before the next run must count those rows as held by
    the archive, not give them back to main: the next run would archive them a second time
    (found by the oracle: one month of rows in two files)."""
    rows_in_main(cfg)
    before = snapshot(cfg, TABLE)
    backup = handles.backup(cfg, "main")
    assert run_killed(config_path, ARCHIVE, "main_archive.after_commit") == -signal.SIGKILL
    doc = manifest.read_manifest(handles.archive_stores(cfg).active, TABLE)
    assert [e.state for e in doc.files] == ["pending"]
    done = handles.restore_backup(cfg, backup, [TABLE])[0]
    assert (done.inserted, done.elsewhere) == (0, doc.files[0].rows)
    handles.archive_due(cfg, LATER, tables=[TABLE])
    assert_whole(cfg, before)

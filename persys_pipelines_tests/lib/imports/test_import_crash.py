"""kill -9 in the middle of an import loses nothing and doubles nothing: the import is run in
a subprocess that SIGKILLs itself at a named point of delivery (PERSYS_CRASH_AT), then the same
file is imported again; every row ends up in exactly one tier, as with one clean import.
Also: a newer export that overlaps an older one adds only what is new."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections import Counter

import pytest

from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.imports import record
from persys_pipelines.lib.imports.synthetic import write_export
from persys_pipelines_tests.import_helpers import TODAY, keys_by_tier, project, run_import

CHILD = """
import sys, datetime as dt
from pathlib import Path
from persys_pipelines.lib.config import load_config
from persys_pipelines_tests.import_helpers import run_import
cfg = load_config(sys.argv[1])
run_import(cfg, "apple-health", Path(sys.argv[2]), today=dt.date.fromisoformat(sys.argv[3]))
"""


def _killed_import(config_path, path, point: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PERSYS_CRASH_AT": point}
    return subprocess.run([sys.executable, "-c", CHILD, str(config_path), str(path),
                           TODAY.isoformat()], env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("point", ["import.before_commit", "import.after_commit",
                                   "import.before_archive", "main_archive.after_put",
                                   "main_archive.before_commit"])
def test_kill_9_mid_import_then_again(cfg, config_path, tmp_path, point):
    project(cfg)
    path = tmp_path / "export.xml"
    write_export(path, 6000, last_day=TODAY - dt.timedelta(days=1), days=500)
    died = _killed_import(config_path, path, point)
    assert died.returncode == -9, died.stderr[-2000:]
    assert f"persys-crash-point {point}" in died.stdout
    partial = keys_by_tier(cfg, "health_metrics")
    every = partial["core"] + partial["main"] + partial["archive"]
    assert len(every) == len(set(every))  # nothing doubled, even half way
    assert record.find(resolve_tier(cfg, "main"), _sha(path)).state == record.DELIVERING
    report = run_import(cfg, "apple-health", path)
    assert report.resumed
    keys = keys_by_tier(cfg, "health_metrics")
    every = keys["core"] + keys["main"] + keys["archive"]
    assert len(every) == len(set(every))
    clean_dir = tmp_path / "clean"
    assert len(every) == _clean_count(path, clean_dir, cfg)
    done = record.find(resolve_tier(cfg, "main"), _sha(path))
    assert done.state == record.DONE  # and it counts what the killed run wrote too
    assert sum(done.rows["new"]["health_metrics"].values()) == len(every)
    with resolve_tier(cfg, "main").connect() as conn:
        unfinished = conn.execute("select route, state from persys.ledger where state not in "
                                  "('done', 'failed', 'interrupted')").fetchall()
    assert not unfinished


@pytest.mark.parametrize("point", ["import.before_commit", "import.after_commit"])
def test_kill_9_between_cores_commit_and_the_ledger(cfg, config_path, tmp_path, point):
    """Core's rows and main's ledger commit separately: killed between the two, the next
    import tells from core's transaction status whether the rows committed, and the ledger
    ends with exactly the rows core holds, no entry left open."""
    project(cfg)
    path = tmp_path / "recent.xml"
    write_export(path, 600, last_day=TODAY - dt.timedelta(days=1), days=8)  # all in core
    died = _killed_import(config_path, path, point)
    assert died.returncode == -9, died.stderr[-2000:]
    main = resolve_tier(cfg, "main")
    with main.connect() as conn:
        left = conn.execute("select state, detail->>'core_xid' is not null from persys.ledger "
                            "where route = 'import'").fetchall()
    assert left == [("committing", True)]  # core's transaction id recorded before its commit
    run_import(cfg, "apple-health", path)
    keys = keys_by_tier(cfg, "health_metrics")
    assert not keys["main"] and not keys["archive"]
    assert len(keys["core"]) == len(set(keys["core"])) == _clean_count(path, None, cfg)
    with main.connect() as conn:
        entries = conn.execute("select state, rows, to_tier, detail ? 'repaired' "
                               "from persys.ledger where route = 'import' order by id").fetchall()
    assert {state for state, *_ in entries} == {"done"}
    assert sum(rows for _, rows, *_ in entries) == len(keys["core"])
    assert {to for *_, to, _ in entries} == {"core"}
    repaired = [rows for _, rows, _, fixed in entries if fixed]
    # core had committed: the entry has its rows (and the import again wrote none); it had
    # not: the entry wrote nothing, the import again wrote them all
    assert repaired == ([len(keys["core"])] if point == "import.after_commit" else [0])


@pytest.mark.parametrize("point", ["import.before_commit", "import.after_commit"])
def test_lifecycle_repair_settles_an_import_killed_between_the_commits(cfg, config_path,
                                                                        tmp_path, point):
    """`persys lifecycle repair` reports the import entry a kill left `committing` and, with
    --apply, closes it from core's transaction status: its rows if core committed, none if not."""
    from persys_pipelines import handles

    project(cfg)
    path = tmp_path / "recent.xml"
    write_export(path, 600, last_day=TODAY - dt.timedelta(days=1), days=8)  # all in core
    assert _killed_import(config_path, path, point).returncode == -9
    (seen,) = handles.repair_all(cfg, ["health_metrics"])
    assert seen.unsettled == 1 and not seen.fixed
    (fixed,) = handles.repair_all(cfg, ["health_metrics"], apply=True)
    assert fixed.fixed
    in_core = len(keys_by_tier(cfg, "health_metrics")["core"])
    with resolve_tier(cfg, "main").connect() as conn:
        entries = conn.execute("select state, rows from persys.ledger where route = 'import'"
                               ).fetchall()
    assert entries == [("done", in_core)]
    assert (in_core > 0) == (point == "import.after_commit")
    (again,) = handles.repair_all(cfg, ["health_metrics"])
    assert again.unsettled == 0


def _sha(path) -> str:
    from persys_pipelines.lib.imports.run import file_sha256

    return file_sha256(path)


def _clean_count(path, folder, cfg) -> int:
    """Rows one clean import makes of the file (distinct keys in range of retention)."""
    from zoneinfo import ZoneInfo

    from persys_pipelines.lib.imports.rows import Tally
    from persys_pipelines.lib.imports.run import rows_of
    from persys_pipelines.lib.moves.import_plan import tier_of

    policy = cfg.tables["health_metrics"]
    keys = {k for k, day, _ in rows_of("apple-health", path, ZoneInfo(cfg.timezone), Tally())
            if tier_of(policy, TODAY, day) is not None}
    return len(keys)


def test_newer_overlapping_export_adds_only_what_is_new(cfg, tmp_path):
    project(cfg)
    older, newer = tmp_path / "old.xml", tmp_path / "new.xml"
    write_export(older, 4000, last_day=TODAY - dt.timedelta(days=40), days=300, seed=3)
    write_export(newer, 4400, last_day=TODAY - dt.timedelta(days=10), days=330, seed=3)
    run_import(cfg, "apple-health", older)
    before = keys_by_tier(cfg, "health_metrics")
    report = run_import(cfg, "apple-health", newer)
    after = keys_by_tier(cfg, "health_metrics")
    every = after["core"] + after["main"] + after["archive"]
    assert len(every) == len(set(every))
    added = sum(report.delivered.new.values())
    assert added == len(every) - sum(len(v) for v in before.values()) > 0
    assert sum(report.delivered.present.values()) > 0  # the overlap was recognised
    assert Counter(every) == Counter(set(every))

"""`persys lifecycle run`: the plan, --dry-run, the Dagster run and what it prints."""

from __future__ import annotations

import datetime as dt
import os
from urllib.parse import urlsplit, urlunsplit

import dagster as dg

from persys_pipelines import handles as setup_lib
from persys_pipelines.cli import main
from persys_pipelines.defs import go_ahead
from persys_pipelines.defs.runner import THROWAWAY_ENV
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.pg import ledger
from persys_pipelines_tests.lifecycle_helpers import rows_text

AS_OF = dt.date(2025, 2, 20)


def snapshot(cfg) -> dict:
    core, main_tier = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    return {t: (rows_text(core, t), rows_text(main_tier, t)) for t in cfg.tables}


def test_dry_run_prints_the_plan_and_changes_nothing(cfg, capsys):
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=60, seed=5, as_of=AS_OF)
    before = snapshot(cfg)
    size = resolve_tier(cfg, "core").size_bytes()
    assert main(["lifecycle", "run", "--as-of", AS_OF.isoformat(), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "journal_entries" in out and "(< 2025-02-13)" in out
    assert snapshot(cfg) == before
    assert resolve_tier(cfg, "core").size_bytes() == size
    with resolve_tier(cfg, "main").connect() as conn:
        assert ledger.entries(conn) == []


def test_run_moves_due_days_through_dagster_and_reports(cfg, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv(THROWAWAY_ENV)  # the suite's default; a person's runs are recorded
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    (tmp_path / "dh").mkdir()
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=60, seed=5, as_of=AS_OF)
    before = snapshot(cfg)
    code = main(["lifecycle", "run", "--as-of", AS_OF.isoformat(), "--table", "journal_entries",
                 "--table", "health_metrics"])
    out = capsys.readouterr().out
    assert code == 0, out
    core_to_main = out.split("\n\n")[0]  # then the main→archive and purge sections
    lines = {ln.split()[0]: ln.split() for ln in core_to_main.splitlines() if ln.startswith("  ")}
    # table, days, rows, bytes moved, bytes returned (each a number and kB or MB)
    assert lines["journal_entries"][1:3] == ["46", "49"]
    assert lines["journal_entries"][4] in ("kB", "MB") and lines["journal_entries"][6] in (
        "kB", "MB")
    after = snapshot(cfg)
    for t in ("journal_entries", "health_metrics"):
        assert after[t][0] + after[t][1] == before[t][0] + before[t][1]
        assert sum(after[t][1].values()) == int(lines[t][2].replace(",", ""))
    assert after["transactions"] == before["transactions"]  # not selected
    # recorded in the instance of DAGSTER_HOME, with the partition range and the check
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey(["main", "journal_entries"]), "moved_range_left_core")])
    assert len(runs) == 1 and runs[0].tags["dagster/asset_partition_range_start"] == "2024-12-23"
    assert runs[0].tags["persys/as_of"] == AS_OF.isoformat()
    assert list(checks.values())[0].status.value == "SUCCEEDED"
    # the first real run is the go-ahead for the schedules that move rows (for the next up)
    assert go_ahead.given(cfg.home)
    assert "nightly, archive_purge_weekly, archive_due): on from the next `persys up` on" in out
    # nothing due any more: said once, not a row of zeros per table
    assert main(["lifecycle", "run", "--as-of", AS_OF.isoformat(), "--table",
                 "journal_entries"]) == 0
    out = capsys.readouterr().out
    assert out.count("nothing is due") == 2  # core→main and main→archive, once each
    assert "journal_entries" not in out and "schedules that move" not in out


def test_a_run_is_recorded_where_persys_up_shows_it(cfg, capsys, monkeypatch, make_database):
    """No DAGSTER_HOME and no throwaway asked: the run goes to `<home>/dagster`'s instance
    (its PostgreSQL named by PERSYS_DAGSTER_PG_URL here, the embedded server otherwise)."""
    monkeypatch.delenv(THROWAWAY_ENV)
    url = urlsplit(make_database("dagster"))
    monkeypatch.setenv("PERSYS_DAGSTER_PG_URL",
                       urlunsplit(url._replace(scheme="postgresql+psycopg2")))
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=30, seed=5, as_of=AS_OF)
    assert main(["lifecycle", "run", "--as-of", AS_OF.isoformat(), "--table",
                 "journal_entries"]) == 0
    capsys.readouterr()
    assert os.environ["DAGSTER_HOME"] == str(cfg.home / "dagster")
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
    assert [r.job_name for r in runs] == ["lifecycle_core_to_main"]

    monkeypatch.setenv(THROWAWAY_ENV, "1")  # asked: nothing more in that instance
    monkeypatch.delenv("DAGSTER_HOME")
    assert main(["--throwaway-instance", "daily", "run", "--days", "1"]) == 0
    monkeypatch.setenv("DAGSTER_HOME", str(cfg.home / "dagster"))
    with dg.DagsterInstance.get() as instance:
        assert len(instance.get_runs()) == 1


def test_the_dry_runs_archive_plan_is_what_the_run_archives(cfg, capsys):
    """Main is empty on a fresh install: the dry run counts what core→main is about to bring
    there, so the months and rows it says main→archive will take are the run's (the ledger's),
    not "nothing is due" followed by a run that archives a year."""
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=430, seed=5, as_of=AS_OF)
    args = ["lifecycle", "run", "--as-of", AS_OF.isoformat(), "--table", "journal_entries"]
    assert main([*args, "--dry-run"]) == 0
    planned = capsys.readouterr().out.split("lifecycle main→archive")[1].split("\n\n")[0]
    line = next(ln.split() for ln in planned.splitlines() if ln.startswith("  journal_entries"))
    months, rows = int(line[1]), int(line[2].replace(",", ""))
    assert months >= 1 and rows > 0
    assert main(args) == 0
    with resolve_tier(cfg, "main").connect() as conn:
        done = [e for e in ledger.entries(conn, "journal_entries", route="main_archive")
                if e.state == "done" and e.rows]
    assert (len({e.first_day.replace(day=1) for e in done}), sum(e.rows for e in done)) == (
        months, rows)

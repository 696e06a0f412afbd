"""`persys lifecycle run`: the plan, --dry-run, the Dagster run and what it prints."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from persys_pipelines.cli import main
from persys_pipelines.lib import provision as setup_lib
from persys_pipelines.lib.pg import ledger
from persys_pipelines.lib.pg.tiers import resolve_tier
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
    # nothing due any more
    assert main(["lifecycle", "run", "--as-of", AS_OF.isoformat(), "--table",
                 "journal_entries"]) == 0
    assert "nothing is due" in capsys.readouterr().out

"""A `persys` command whose Dagster run fails says so in one line (the step, the error, the path
of the full log), is alerted like the run-failure sensor does, and the daily report's Failures
lists it although it wrote no ledger row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from persys_pipelines.cli import main
from persys_pipelines.handles import load_sample_data, resolve_tier, setup_tiers
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.monitoring.report import failure_lines
from persys_pipelines.lib.tiering import lifecycle
from persys_pipelines_tests.defs.test_monitoring import TOKEN, configure
from persys_pipelines_tests.monitoring_fakes import fake_telegram

AS_OF = dt.date(2025, 2, 1)


def test_failed_lifecycle_run_alerts_and_counts_in_the_report(config_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    with fake_telegram() as tg:
        configure(config_path, tg.base_url)
        cfg = load_config(config_path)
        setup_tiers(cfg)
        load_sample_data(cfg, days=60, seed=5, as_of=AS_OF)
        monkeypatch.setattr(lifecycle, "run_table", broken)
        code = main(["lifecycle", "run", "--as-of", AS_OF.isoformat(), "--table",
                     "journal_entries"])
        assert code != 0
        out, err = capsys.readouterr()
        (message,) = tg.messages
    # one readable line, not Dagster's log: the step, the error, where the full log is
    assert "ERROR" not in out + err and "Traceback" not in out + err
    (line,) = err.strip().splitlines()
    assert line.startswith("persys: lifecycle_core_to_main failed at step main__journal_entries:")
    assert "disk on fire" in line and "an unexpected error" in line
    log = Path(line.split("full log: ")[1])
    assert log.is_file() and log.parent == cfg.home / "logs"
    assert "Stack Trace" in log.read_text() and "RuntimeError: disk on fire" in log.read_text()
    text = message["text"]
    assert "lifecycle_core_to_main failed" in text and "disk on fire" in text
    assert TOKEN not in text

    with resolve_tier(cfg, "main").connect() as conn:
        lines = failure_lines(conn)
    assert any("lifecycle_core_to_main failed" in ln for ln in lines), lines

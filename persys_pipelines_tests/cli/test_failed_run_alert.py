"""A `persys` command whose Dagster run fails is alerted like the run-failure sensor does, and
the daily report's Failures lists it although it wrote no ledger row."""

from __future__ import annotations

import datetime as dt

from persys_pipelines.cli import main
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.monitoring.report import failure_lines
from persys_pipelines.lib.pg.tiers import resolve_tier
from persys_pipelines.lib.provision import load_sample_data, setup_tiers
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
        assert "failed" in capsys.readouterr().err
        (message,) = tg.messages
    text = message["text"]
    assert "lifecycle_core_to_main failed" in text and "disk on fire" in text
    assert TOKEN not in text

    with resolve_tier(cfg, "main").connect() as conn:
        lines = failure_lines(conn)
    assert any("lifecycle_core_to_main failed" in ln for ln in lines), lines

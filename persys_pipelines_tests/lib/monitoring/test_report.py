"""The Markdown report and `persys status --report [--sizes|--sync|--lifecycle]`."""

from __future__ import annotations

import datetime as dt

from persys_pipelines import handles
from persys_pipelines.cli import main as persys
from persys_pipelines.handles import load_sample_data, resolve_tier, setup_tiers
from persys_pipelines.lib.monitoring import report, usage

MB = 1024 * 1024


def seed_history(cfg) -> None:
    now = dt.datetime.now(dt.UTC)
    core = resolve_tier(cfg, "core")
    size = core.size_bytes()
    with resolve_tier(cfg, "main").connect() as main:
        usage.record(main, [usage.Usage("core", size - (10 - i) * MB, core.quota_bytes,
                                        now - dt.timedelta(days=10 - i)) for i in range(11)])


def test_full_report_has_chart_forecast_tables_and_moves(cfg, tmp_path):
    setup_tiers(cfg)
    load_sample_data(cfg, days=5, seed=3, as_of=dt.date(2024, 5, 20))
    seed_history(cfg)
    with resolve_tier(cfg, "main").connect() as main:
        main.execute("insert into persys.ledger (route, table_name, first_day, last_day, "
                     "from_tier, to_tier, rows, state) values ('core_main', 'journal_entries', "
                     "'2024-05-01', '2024-05-02', 'core', 'main', 4, 'failed')")
        main.commit()
    text = report.build(handles.status_context(cfg), chart_png=tmp_path / "usage.png")
    for heading in ("## Sizes", "### Usage chart", "### Tables per tier", "### Forecast",
                    "## Sync (last 24 h)", "### Failures", "## Lifecycle", "## Free-tier usage"):
        assert heading in text
    assert "core  [█" in text and "last 11 days:" in text
    assert "| core | +1.00 MB |" in text  # 1 MB a day of seeded growth
    assert "| journal_entries | " in text and " rows, 2024-05-" in text
    assert "move journal_entries 2024-05-01 … 2024-05-02: failed" in text
    assert (tmp_path / "usage.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_report_sections(config_path, cfg, capsys):
    setup_tiers(cfg)
    seed_history(cfg)
    assert persys(["status", "--report", "--sizes"]) == 0
    out = capsys.readouterr().out
    assert "## Sizes" in out and "### Forecast" in out and "## Sync" not in out
    assert persys(["status", "--report", "--sync", "--lifecycle"]) == 0
    out = capsys.readouterr().out
    assert "## Sync" in out and "## Lifecycle" in out and "## Sizes" not in out
    assert persys(["status", "--json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert set(doc["forecast"]["core"]["lines"]) == {"80", "90", "95"}


def test_cli_report_lifecycle_shows_due_days_rows_cutoff_and_reclaimable(config_path, cfg,
                                                                        capsys):
    from persys_pipelines.lib.tiering import lifecycle

    setup_tiers(cfg)
    as_of = dt.date(2024, 5, 20)
    assert persys(["status", "--report", "--lifecycle", "--as-of", as_of.isoformat()]) == 0
    assert "Nothing is due as of 2024-05-20" in capsys.readouterr().out
    load_sample_data(cfg, days=90, seed=4, as_of=as_of)
    assert persys(["status", "--report", "--lifecycle", "--as-of", as_of.isoformat()]) == 0
    out = capsys.readouterr().out
    plans = lifecycle.plan(resolve_tier(cfg, "core"), handles.specs(cfg), as_of)
    total = sum(p.rows for p in plans.values())
    assert f"Due to move core → main as of 2024-05-20: {total:,} rows" in out
    j = plans["journal_entries"]  # core_days 7: due up to 2024-05-12, keeps from 05-13
    assert (f"| journal_entries | {len(j.days)} | {j.rows:,} | {j.first_day} … 2024-05-12 | "
            "2024-05-13 | ") in out
    # health_metrics keeps 30 days (from 2024-04-20): February and March are whole months
    # before the cut-off, so their partitions come back; the line shows a non-zero size
    health = next(line for line in out.splitlines() if line.startswith("| health_metrics |"))
    assert health.endswith((" MB |", " kB |")) and not health.endswith("| 0.0 MB |")
    assert "| daily_summaries |" not in out  # nothing due there


def test_fresh_install_report_says_why_there_is_no_forecast_yet(config_path, cfg, capsys):
    setup_tiers(cfg)
    for _ in range(2):  # each report measures the tiers and adds that to the history
        assert persys(["status", "--report", "--sizes"]) == 0
    out = capsys.readouterr().out
    core = next(line for line in out.splitlines() if line.startswith("| core | - |"))
    assert "not known yet: needs usage samples spread over at least a day" in core
    assert "| main | - | no quota set (tiers.main.quota_mb) |" in out
    assert "never" not in out and "last 1 days" not in out
    with resolve_tier(cfg, "main").connect() as main:
        assert len(usage.history(main, "core")) == 2

"""`persys daily run`: one ranged Dagster run writes the summaries and projections of the days
asked for, from the person's own tables; bad day ranges are refused before anything runs."""

from __future__ import annotations

import datetime as dt

from persys_pipelines.cli import main
from persys_pipelines.cli.daily import day_range
from persys_pipelines.lib.pg.tiers import connect
from persys_pipelines_tests.lib.daily.test_sources import D1, D2, own  # noqa: F401  (fixture)


def test_daily_run_writes_the_days_asked_for(own, tier_dsns, capsys):  # noqa: F811
    assert main(["daily", "run", "--from", D1.isoformat(), "--to", D2.isoformat()]) == 0
    out = capsys.readouterr().out
    assert f"daily summaries and projections {D1}..{D2}: 2 days, one Dagster run" in out
    assert "daily_summary     2 days written, 0 without data" in out
    with connect(tier_dsns["core"]) as conn:
        summaries = conn.execute("select day, finance->>'spend', summary_text "
                                 "from persys.daily_summaries order by day").fetchall()
        projections = conn.execute("select day, projections->'month_end_spend'->>'projected' "
                                   "from persys.daily_projections order by day").fetchall()
    assert [(d, s) for d, s, _ in summaries] == [(D1, "20.5"), (D2, "1253.5")]
    assert "6,500 steps" in summaries[1][2]
    assert [d for d, _ in projections] == [D1, D2]
    assert all(float(p) >= 1274.0 for _, p in projections[1:])  # never below month to date


def test_bad_day_ranges_are_refused_with_the_reason(own, capsys):  # noqa: F811
    tomorrow = own.today() + dt.timedelta(days=1)
    cases = {
        ("--from", D2.isoformat(), "--to", D1.isoformat()): f"--from {D2} is after --to {D1}",
        ("--from", "2022-12-31", "--to", D1.isoformat()): "is before start_date (2023-01-01",
        ("--to", tomorrow.isoformat()): "that day is not over yet",
        ("--days", "0"): "--days 0: must be 1 or more",
        ("--from", D1.isoformat(), "--days", "3"): "give --from or --days, not both",
        ("--from", tomorrow.isoformat()): f"--from {tomorrow}: that day is not over yet",
        ("--to", "2022-12-31"): "--to 2022-12-31 is before start_date (2023-01-01",
        ("--to", "0001-01-01"): "--to 0001-01-01 is before start_date (2023-01-01",
    }
    for args, message in cases.items():
        assert main(["daily", "run", *args]) == 1, args
        assert message in capsys.readouterr().err


def test_more_days_than_since_start_date_are_all_of_them(own):  # noqa: F811
    yesterday = own.today() - dt.timedelta(days=1)
    assert day_range(own, None, None, 10**12) == (own.start_date, yesterday)
    assert day_range(own, None, D1, 100000) == (own.start_date, D1)
    assert day_range(own, None, own.start_date, 5) == (own.start_date, own.start_date)


def test_a_source_the_database_cannot_serve_is_named(own, tmp_path, tier_dsns, capsys,  # noqa: F811
                                                       monkeypatch):
    from persys_pipelines_tests.lib.daily.test_sources import SOURCES, own_config

    path, _ = own_config(tmp_path, tier_dsns, {**SOURCES, "mood": {
        "table": "journal", "day_column": "written_at", "value": "mood_scor", "agg": "mean"}})
    monkeypatch.setenv("PERSYS_CONFIG", str(path))
    assert main(["daily", "run", "--from", D1.isoformat(), "--to", D2.isoformat()]) == 2
    err = capsys.readouterr().err
    assert ("daily.sources.mood.value ('mood_scor'): PostgreSQL cannot run it on journal: "
            "column \"mood_scor\" does not exist") in err and "Traceback" not in err
    with connect(tier_dsns["core"]) as conn:  # nothing half-written
        assert conn.execute("select count(*) from persys.daily_summaries").fetchone()[0] == 0

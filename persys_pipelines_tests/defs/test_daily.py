"""The daily assets in Dagster: a ranged run is one run with one materialization per day."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from psycopg.types.json import Jsonb

from persys_pipelines.definitions import build_definitions
from persys_pipelines.lib.daily import summary
from persys_pipelines.lib.pg.tiers import connect
from persys_pipelines_tests.lib.daily.test_summary import (  # noqa: F401  (daily_cfg is a fixture)
    D1,
    D3,
    daily_cfg,
    load_fixture,
)


def ranged(first: dt.date, last: dt.date) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}


def test_a_ranged_run_writes_every_day_once(daily_cfg, tier_dsns, tmp_path):  # noqa: F811
    load_fixture(tier_dsns)
    defs = build_definitions(daily_cfg, str(tmp_path / "persys.yaml"))
    job = defs.resolve_job_def("daily_morning_job")
    with dg.instance_for_test() as instance:
        for _ in range(2):  # idempotent: the second run replaces the same days
            result = job.execute_in_process(instance=instance, tags=ranged(D1, D3))
            assert result.success
        mats = result.asset_materializations_for_node("daily_summary")
        assert sorted(m.partition for m in mats) == ["2024-03-30", "2024-03-31", "2024-04-01"]
        records = [r.data for r in mats[-1].metadata["raw_rows_read"].records]
        read = {r["table"]: r["rows"] for r in records}  # a table in the UI, per table/filter
        assert read["journal_entries"] > 0 and set(read) >= {"health_metrics", "tasks"}
        # mood and journal words read the same journal rows: counted once, not twice
        (journal,) = [r for r in records if r["table"] == "journal_entries"]
        assert journal["metrics"] == "mood, journal_words" and journal["filter"] == "-"
        in_tiers = 0
        for tier in ("core", "main"):  # the fixture has days in both
            with connect(tier_dsns[tier]) as conn:
                in_tiers += conn.execute(
                    "select count(*) from journal_entries where entry_date between %s and %s",
                    (D1, D3)).fetchone()[0]
        assert journal["rows"] == in_tiers
        steps = [r for r in records if r["filter"] == "metric = steps"]
        assert [r["table"] for r in steps] == ["health_metrics"]
        proj = result.asset_materializations_for_node("daily_projection")
        assert len(proj) == 3
        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert checks["summary_sane"].passed, checks["summary_sane"].metadata
        assert checks["summary_fresh"].passed is False  # nothing for yesterday (it is 2024 here)

    with connect(tier_dsns["core"]) as conn:
        stored = conn.execute("select day, summary_text from persys.daily_summaries order by day")
        stored = stored.fetchall()
        charts = conn.execute("select day, chart_uri from persys.daily_projections order by day")
        charts = charts.fetchall()
    assert [d for d, _ in stored] == [D1, dt.date(2024, 3, 31), D3]
    assert stored[1][1].startswith("Sun 31 Mar 2024: Health: slept 6.0 h")
    assert all(uri and uri.startswith("file://") and uri.endswith(f"{d}.png") for d, uri in charts)
    meta = proj[-1].metadata
    assert meta["chart"].value.count("data:image/png;base64,") == 1
    assert meta["days"].value == 3 and meta["charts_rendered"].value == 3
    assert (daily_cfg.home / "charts" / "2024" / "04" / "2024-04-01.png").is_file()


def test_projection_reads_its_window_of_summaries(daily_cfg, tier_dsns, tmp_path):  # noqa: F811
    """The projection of D3 uses the summaries of the 7 days ending on D3, whichever tier holds
    them: here the older ones already moved to main."""
    load_fixture(tier_dsns)
    defs = build_definitions(daily_cfg, str(tmp_path / "persys.yaml"))
    job = defs.resolve_job_def("daily_morning_job")
    first = D3 - dt.timedelta(days=6)
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance, tags=ranged(first, D3)).success
        with connect(tier_dsns["core"]) as core, connect(tier_dsns["main"]) as main:
            rows = core.execute("select * from persys.daily_summaries where day < %s",
                                (D3,)).fetchall()
            cols = ", ".join(["%s"] * len(rows[0]))
            main.cursor().executemany(f"insert into persys.daily_summaries values ({cols})",
                                      [tuple(Jsonb(v) if isinstance(v, dict) else v for v in r)
                                       for r in rows])
            core.execute("delete from persys.daily_summaries where day < %s", (D3,))
        result = job.execute_in_process(
            instance=instance, tags={"dagster/partition": D3.isoformat()},
            asset_selection=[dg.AssetKey("daily_projection")])
        assert result.success
    (mat,) = result.asset_materializations_for_node("daily_projection")
    trends = mat.metadata["last_day_projection"].value["trends"]
    assert trends["weight_kg"]["n"] == 2 and trends["sleep_hours"]["n"] == 2  # D2 and D3 / D1, D2
    assert trends["sleep_hours"]["mean"] == 6.75


def test_the_morning_schedule_runs_yesterday(daily_cfg, tmp_path):  # noqa: F811
    defs = build_definitions(daily_cfg, str(tmp_path / "persys.yaml"))
    schedule = defs.resolve_schedule_def("daily_morning_schedule")
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.execution_timezone == "Europe/London"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    when = dt.datetime(2024, 7, 2, 6, 0, tzinfo=daily_cfg.zone)
    # the context `with`: it enters an instance of its own from the ref; left open, Dagster's
    # current defs-state storage would outlive it and break later Definitions loads
    with dg.instance_for_test() as instance, dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2024-07-01"


def test_freshness_is_due_after_the_configured_hour(daily_cfg):  # noqa: F811
    zone = daily_cfg.zone  # freshness_hour 9 by default
    daily, at = daily_cfg.daily, daily_cfg.zone
    assert summary.due_day(daily, at, dt.datetime(2024, 7, 2, 8, 59, tzinfo=zone)) == \
        dt.date(2024, 6, 30)
    assert summary.due_day(daily, at, dt.datetime(2024, 7, 2, 9, 0, tzinfo=zone)) == \
        dt.date(2024, 7, 1)

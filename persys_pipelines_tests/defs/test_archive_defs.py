"""Dagster wiring of the archive: the monthly asset with its file check, the due-month sensor,
the purge job."""

from __future__ import annotations

import dagster as dg

from persys_pipelines import handles
from persys_pipelines.defs.archive import definitions
from persys_pipelines.defs.archive.assets import archive_key
from persys_pipelines.defs.lifecycle.assets import AS_OF_TAG
from persys_pipelines.defs.resources import resources
from persys_pipelines.handles import resolve_tier
from persys_pipelines_tests.archive_helpers import LATER, count, rows_in_main


def test_asset_archives_a_month_and_checks_its_file(cfg, config_path):
    rows_in_main(cfg)
    before = count(cfg, "journal_entries")
    defs = dg.Definitions.merge(definitions(cfg), dg.Definitions(resources=resources(
        str(config_path))))
    job = defs.resolve_job_def("archive_monthly")
    result = job.execute_in_process(
        partition_key="2024-03-01", tags={AS_OF_TAG: LATER.isoformat()},
        asset_selection=[archive_key("journal_entries")])
    assert result.success
    (mat,) = result.get_asset_materialization_events()
    meta = mat.materialization.metadata
    assert meta["rows"].value == 33 and len(meta["files"].value) == 1
    assert "/journal_entries/2024/03/" in meta["files"].value[0]
    (check,) = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["files_checked"].value == 1
    assert count(cfg, "journal_entries") == before - 33


def test_sensor_requests_each_due_month_once(cfg, config_path, monkeypatch):
    rows_in_main(cfg)
    monkeypatch.setattr(type(cfg), "today", lambda self: LATER)
    defs = definitions(cfg)
    sensor = next(s for s in defs.sensors if s.name == "archive_due")
    with dg.build_sensor_context(resources=resources(str(config_path))) as context:
        requests = sensor(context)
    keys = {r.run_key for r in requests}
    assert "archive/journal_entries/2024-02/g0-r31" in keys
    assert any(k.startswith("archive/health_metrics/2024-04/g0-") for k in keys)
    assert not any("tasks" in k for k in keys), "tasks keep 730 days in main"
    assert all(r.partition_key.endswith("-01") for r in requests)


def test_sensor_asks_again_for_an_archived_month_with_late_rows(cfg, config_path, monkeypatch):
    rows_in_main(cfg)
    monkeypatch.setattr(type(cfg), "today", lambda self: LATER)
    defs = dg.Definitions.merge(definitions(cfg), dg.Definitions(resources=resources(
        str(config_path))))
    sensor = next(s for s in defs.sensors if s.name == "archive_due")
    job = defs.resolve_job_def("archive_monthly")

    def feb_requests() -> list[dg.RunRequest]:
        with dg.build_sensor_context(resources=resources(str(config_path))) as context:
            found = sensor(context)
        return [r for r in (found if isinstance(found, list) else [])
                if r.run_key.startswith("archive/journal_entries/2024-02/")]

    (first,) = feb_requests()
    assert job.execute_in_process(partition_key=first.partition_key,
                                  tags={AS_OF_TAG: LATER.isoformat()},
                                  asset_selection=first.asset_selection).success
    assert feb_requests() == [], "an archived month is not requested while nothing changes"
    with resolve_tier(cfg, "main").connect() as conn:  # the same number of late rows: 31
        conn.execute("insert into journal_entries (id, entry_date, body) select "
                     "gen_random_uuid(), date '2024-02-01' + i % 29, 'late' "
                     "from generate_series(1, 31) i")
    (again,) = feb_requests()
    assert again.run_key != first.run_key, "late rows (even as many) make a new run key"
    assert again.partition_key == first.partition_key == "2024-02-01"


def test_purge_job_runs(cfg, config_path):
    rows_in_main(cfg)
    defs = dg.Definitions.merge(definitions(cfg), dg.Definitions(resources=resources(
        str(config_path))))
    assert defs.resolve_job_def("archive_purge").execute_in_process().success


def test_sensor_skips_restored_days_while_pinned(cfg, config_path, monkeypatch):
    import datetime as dt

    from persys_pipelines.lib.archive import pins

    rows_in_main(cfg)
    monkeypatch.setattr(type(cfg), "today", lambda self: LATER)
    handles.archive_due(cfg, LATER, tables=["journal_entries"])
    handles.restore(cfg, "journal_entries", dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    sensor = next(s for s in definitions(cfg).sensors if s.name == "archive_due")

    def journal_keys() -> list[str]:
        with dg.build_sensor_context(resources=resources(str(config_path))) as context:
            found = sensor(context)
        return [r.run_key for r in (found if isinstance(found, list) else [])
                if r.run_key.startswith("archive/journal_entries/")]

    assert journal_keys() == [], "pinned (until LATER + 30 days): not requested"
    pins.unpin(resolve_tier(cfg, "main"), "journal_entries")
    assert journal_keys() == ["archive/journal_entries/2024-02/g1-r31"]

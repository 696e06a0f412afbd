"""Run retention in a real DagsterInstance stored in PostgreSQL (persys's own storage class):
old runs go, every partition keeps its status, in Dagster's queries and in the UI's GraphQL."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from persys_pipelines.defs.housekeeping.retention import (
    MATERIALIZED_AT,
    SUMMARY_OF_RUN,
    prune,
)
from persys_pipelines.defs.tags import partition_range
from persys_pipelines_tests.retention_defs import KEY, defs

ALL_DAYS = [f"2024-01-{d:02d}" for d in range(1, 11)]


@pytest.fixture
def pg_instance(make_database):
    dsn = make_database("dagster")
    url = dsn.replace("postgresql://", "postgresql+psycopg2://", 1)
    storage = {"custom": {"module": "persys_pipelines.defs.instance_storage",
                          "class": "PersysStorage", "config": {"postgres_url": url}}}
    with dg.instance_for_test(overrides={"storage": storage}) as instance:
        yield instance, dsn


def run(instance, first: str, last: str) -> str:
    job = defs.resolve_job_def("days_job")
    result = job.execute_in_process(instance=instance, tags=partition_range(first, last))
    assert result.success
    return result.run_id


def check_rows(dsn: str, run_ids: list[str]) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("select count(*) from asset_check_executions where run_id = any(%s)",
                            (run_ids,)).fetchone()[0]


def ui_status(instance) -> tuple[dict, list]:
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    query = """query ($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) {
      ... on AssetNode { partitionStats { numMaterialized numPartitions numFailed }
        assetPartitionStatuses { ... on TimePartitionStatuses {
          ranges { startKey endKey status } } } } } }"""
    module = Path(__file__).parents[1] / "retention_defs.py"
    with define_out_of_process_context(str(module), "defs", instance) as context:
        result = execute_dagster_graphql(context, query, {"key": {"path": KEY.path}})
    assert not result.errors, result.errors
    node = result.data["assetNodeOrError"]
    return node["partitionStats"], node["assetPartitionStatuses"]["ranges"]


def test_old_runs_go_and_every_partition_keeps_its_status(pg_instance):
    instance, dsn = pg_instance
    a = run(instance, "2024-01-01", "2024-01-05")  # a month's ranged move, say
    b = run(instance, "2024-01-03", "2024-01-03")  # late rows: day 3 again
    c = run(instance, "2024-01-06", "2024-01-09")
    assert check_rows(dsn, [a, b, c]) > 0
    time.sleep(0.05)
    cutoff = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    d = run(instance, "2024-01-10", "2024-01-10")  # newer than the cut-off: stays
    before = set(instance.get_materialized_partitions(KEY))

    done = prune(instance, cutoff, kept_days=90)
    assert (done.runs, done.partitions_kept, done.more) == (3, 9, False)
    assert done.check_rows > 0 and check_rows(dsn, [a, b, c]) == 0
    assert [r.dagster_run.run_id for r in instance.get_run_records()] == [d]
    # Dagster's own reading from the event log (what a rebuilt status cache sees)
    assert set(instance.get_materialized_partitions(KEY)) == before == set(ALL_DAYS)
    # the summary of day 3 is the later run's, with its small metadata and its time
    (day3,) = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=KEY, asset_partitions=["2024-01-03"]), limit=1).records
    meta = {k: v.value for k, v in day3.asset_materialization.metadata.items()}
    assert meta[SUMMARY_OF_RUN] == b and meta["rows"] == 10  # the numbers stay, texts go
    assert "script" not in meta and "first_day" not in meta
    assert dt.datetime.fromisoformat(meta[MATERIALIZED_AT]) < cutoff
    assert day3.run_id == ""  # runless: no run left to delete it with
    # again: nothing left to delete, nothing written twice
    again = prune(instance, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=0.01), kept_days=90)
    assert (again.runs, again.partitions_kept) == (1, 1)  # run d is old by now
    assert set(instance.get_materialized_partitions(KEY)) == set(ALL_DAYS)


@pytest.mark.slow
def test_the_ui_shows_every_partition_materialized_after_retention(pg_instance):
    """The UI's own GraphQL (a code server started for the definitions) after the runs that
    materialized the partitions were deleted."""
    instance, _ = pg_instance
    run(instance, "2024-01-01", "2024-01-06")
    run(instance, "2024-01-04", "2024-01-10")
    assert prune(instance, dt.datetime.now(dt.UTC), kept_days=90).runs == 2
    assert instance.get_run_records() == []
    stats, ranges = ui_status(instance)
    assert stats == {"numMaterialized": 10, "numPartitions": 10, "numFailed": 0}
    assert ranges == [{"startKey": "2024-01-01", "endKey": "2024-01-10",
                       "status": "MATERIALIZED"}]


def test_running_runs_are_never_deleted_and_batches_say_more_is_due(pg_instance):
    instance, _ = pg_instance
    ids = [run(instance, day, day) for day in ALL_DAYS[:3]]
    queued = instance.create_run_for_job(defs.resolve_job_def("days_job"),
                                         status=dg.DagsterRunStatus.STARTED,
                                         tags=partition_range("2024-01-04", "2024-01-04"))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    first = prune(instance, later, kept_days=1, limit=2)
    assert first.runs == 2 and first.more
    second = prune(instance, later, kept_days=1, limit=2)
    assert second.runs == 1 and not second.more
    left = {r.dagster_run.run_id for r in instance.get_run_records()}
    assert left == {queued.run_id} and not left & set(ids)
    assert set(instance.get_materialized_partitions(KEY)) == set(ALL_DAYS[:3])


def test_tick_retention_comes_from_persys_yaml_and_dagster_accepts_it(tmp_path, cfg):
    import shutil

    import yaml

    from persys_pipelines.lib.pg.instance import PROJECT_ROOT, tick_retention, write_retention

    cfg = cfg.model_copy(update={"instance": cfg.instance.model_copy(update={
        "keep_ticks_days": 12, "keep_skipped_ticks_days": 2})})
    path = tmp_path / "dagster.yaml"
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", path)
    shipped = yaml.safe_load(path.read_text())["retention"]
    assert shipped["sensor"]["purge_after_days"] == {"skipped": 3, "success": 30,
                                                     "failure": 30, "started": 30}
    write_retention(path, cfg.instance)
    doc = yaml.safe_load(path.read_text())
    assert doc["retention"]["schedule"]["purge_after_days"] == {
        "skipped": 2, "success": 12, "failure": 12, "started": 12}
    assert doc["storage"]["custom"]["class"] == "PersysStorage"  # the rest is kept
    with dg.instance_for_test(overrides={"retention": tick_retention(cfg.instance)}) as instance:
        assert instance.get_settings("retention") == tick_retention(cfg.instance)


def test_the_daily_job_runs_in_the_definitions(pg_instance, cfg, config_path):
    from persys_pipelines.definitions import build_definitions

    instance, _ = pg_instance
    run(instance, "2024-01-01", "2024-01-02")  # newer than keep_runs_days: stays
    job = build_definitions(cfg, str(config_path)).resolve_job_def("instance_retention")
    result = job.execute_in_process(instance=instance)
    assert result.success
    meta = result.output_for_node("prune_instance") is None and {
        k: v.value for e in result.all_events if e.is_successful_output
        for k, v in e.event_specific_data.metadata.items()}
    assert meta["runs_deleted"] == 0 and meta["more_due"] is False
    assert len(instance.get_run_records()) == 2  # the asset run and this one


def test_killed_between_summary_and_delete_or_run_twice_at_once(pg_instance):
    """A prune killed after writing a run's summaries but before deleting it writes nothing
    twice; two prunes at the same time (UI and schedule) lose no partition."""
    import threading

    from persys_pipelines.defs.housekeeping.retention import keep_partition_status

    instance, _ = pg_instance
    a = run(instance, "2024-01-01", "2024-01-04")
    assert keep_partition_status(instance, a, 30) == 4  # ... and then kill -9
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    again = prune(instance, later, kept_days=30)
    assert (again.runs, again.partitions_kept) == (1, 0)
    kept = instance.fetch_materializations(KEY, limit=100).records
    assert len(kept) == 4 and {r.run_id for r in kept} == {""}
    for day in ALL_DAYS[4:8]:
        run(instance, day, day)
    errors: list[BaseException] = []

    def go() -> None:
        try:
            prune(instance, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1), kept_days=30)
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and instance.get_run_records() == []
    assert set(instance.get_materialized_partitions(KEY)) == set(ALL_DAYS[:8])

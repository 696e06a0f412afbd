"""`persys/lifecycle` is on every run that moves rows (dagster.yaml allows one such run at a
time) and on no other: the jobs carry it as run tags, and so do the requests of the nightly
schedule, the archive sensor, the weekly purge and the quota sensor's emergency run, and the
runs `persys` starts in-process."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import yaml

from persys_pipelines import handles as setup_lib
from persys_pipelines.definitions import build_definitions
from persys_pipelines.defs import tags
from persys_pipelines.defs.monitoring.quota import emergency_tags
from persys_pipelines.defs.resources import resources
from persys_pipelines.defs.runner import run_job
from persys_pipelines.lib.monitoring.quota import EmergencyPlan

AS_OF = dt.date(2025, 2, 20)
MOVING_JOBS = {"lifecycle_core_to_main": tags.CORE_TO_MAIN,
               "archive_monthly": tags.MAIN_TO_ARCHIVE, "archive_purge": tags.PURGE}


def test_the_concurrency_limit_names_the_tag():
    doc = yaml.safe_load((Path(__file__).parents[2] / "dagster.yaml").read_text())
    limits = doc["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": tags.LIFECYCLE_TAG, "limit": 1} in limits


def test_moving_jobs_and_only_they_carry_the_tag(cfg, config_path):
    defs = build_definitions(cfg, str(config_path))
    for job in defs.resolve_all_job_defs():
        if job.name.startswith("__"):
            continue
        expected = MOVING_JOBS.get(job.name)
        assert job.run_tags.get(tags.LIFECYCLE_TAG) == expected, job.name


def test_nightly_schedule_and_weekly_purge_request_tagged_runs(cfg, config_path):
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=60, seed=5, as_of=AS_OF)
    defs = build_definitions(cfg, str(config_path))
    when = dt.datetime(AS_OF.year, AS_OF.month, AS_OF.day, 2, 30, tzinfo=ZoneInfo(cfg.timezone))
    for name, kind in (("lifecycle_nightly", tags.CORE_TO_MAIN),
                       ("archive_purge_weekly", tags.PURGE)):
        with dg.build_schedule_context(scheduled_execution_time=when,
                                       resources=resources(str(config_path))) as context:
            result = defs.resolve_schedule_def(name).evaluate_tick(context)
        assert result.run_requests, name
        assert all(r.tags[tags.LIFECYCLE_TAG] == kind for r in result.run_requests), name


def test_emergency_run_is_tagged(cfg):
    plan = EmergencyPlan(cutoff=dt.date(2024, 6, 1), first_day=dt.date(2024, 1, 3),
                         expected_bytes=1)
    run_tags = emergency_tags(cfg, plan, dt.date(2024, 6, 10))
    assert run_tags[tags.LIFECYCLE_TAG] == tags.EMERGENCY
    assert run_tags[tags.MOVE_BEFORE_TAG] == "2024-06-01"
    assert run_tags[tags.PARTITION_RANGE_START_TAG] == "2024-01-03"


def test_runs_started_by_persys_carry_the_tag(cfg, config_path):
    """The in-process runner (`persys lifecycle run`, `persys demo`) runs the job itself, so the
    job's run tags are on the run even when the caller passes only its own."""
    defs = build_definitions(cfg, str(config_path))
    result = run_job(defs, "archive_purge", tags={tags.AS_OF_TAG: AS_OF.isoformat()})
    assert result.dagster_run.tags[tags.LIFECYCLE_TAG] == tags.PURGE


def test_a_ui_materialize_of_a_move_is_limited_by_its_pool(cfg, config_path):
    """The UI's Materialize button runs Dagster's implicit asset job, which has no job tags:
    the limit there is the pool on every step that moves rows, enforced per run."""
    defs = build_definitions(cfg, str(config_path))
    pools = {}
    for node in defs.resolve_implicit_global_asset_job_def().graph.node_defs:
        pools[node.name] = node.pool
    moving = {n: p for n, p in pools.items()
              if n.startswith(("main__", "archive__", "imports__"))}  # imports write rows too
    assert moving and set(moving.values()) == {tags.LIFECYCLE_POOL}, pools
    others = {n: p for n, p in pools.items() if n not in moving}
    assert others and set(others.values()) == {None}, others
    purge = defs.resolve_job_def("archive_purge")
    assert {n.pool for n in purge.graph.node_defs} == {tags.LIFECYCLE_POOL}

    doc = yaml.safe_load((Path(__file__).parents[2] / "dagster.yaml").read_text())
    with dg.instance_for_test(overrides={"concurrency": doc["concurrency"]}) as instance:
        pool_config = instance.get_concurrency_config().pool_config
        assert pool_config.pool_granularity.value == "run"
        assert pool_config.default_pool_limit == 1

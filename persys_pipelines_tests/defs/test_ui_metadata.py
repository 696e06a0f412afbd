"""What a person reads in the Dagster UI: every asset in a labelled group with kinds and a
one-line description, every check/job/schedule/sensor described, schedules and sensors on unless
the README says why not. Fails on the first definition someone adds without them."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from persys_pipelines.definitions import build_definitions

GROUPS = {"core", "main", "archive", "daily", "monitoring", "imports"}
# keys whose first part names a tier or concern must sit in the group of that name
PREFIX_GROUPS = {"core", "main", "archive", "monitoring", "imports"}
# schedules/sensors deliberately off by default; each must be explained in README.md
OFF_BY_DEFAULT: set[str] = set()
README = Path(__file__).resolve().parents[2] / "README.md"


def one_line(text: str | None) -> bool:
    return bool(text and text.strip()) and "\n" not in text.strip() and len(text) <= 300


@pytest.fixture
def defs(cfg, config_path) -> dg.Definitions:
    return build_definitions(cfg, str(config_path))


def test_every_asset_has_group_kinds_and_description(defs):
    graph = defs.resolve_asset_graph()
    problems = []
    for key in graph.get_all_asset_keys():
        node, name = graph.get(key), key.to_user_string()
        if node.group_name not in GROUPS:
            problems.append(f"{name}: group {node.group_name!r} not one of {sorted(GROUPS)}")
        if len(key.path) > 1 and key.path[0] in PREFIX_GROUPS and node.group_name != key.path[0]:
            problems.append(f"{name}: in group {node.group_name!r}, expected {key.path[0]!r}")
        if not node.kinds:
            problems.append(f"{name}: no kinds (postgres, parquet, audio, ...)")
        if not one_line(node.description):
            problems.append(f"{name}: description missing or not one line")
    assert not problems, "\n".join(problems)


def test_every_group_has_assets(defs):
    graph = defs.resolve_asset_graph()
    assert {graph.get(k).group_name for k in graph.get_all_asset_keys()} == GROUPS


def test_every_check_job_schedule_sensor_is_described(defs):
    graph = defs.resolve_asset_graph()
    problems = []
    for ad in graph.assets_defs:
        for spec in ad.check_specs:
            if not one_line(spec.description):
                problems.append(f"check {spec.asset_key.to_user_string()}:{spec.name}")
    for checks in defs.asset_checks or []:
        for spec in checks.check_specs:
            if not one_line(spec.description):
                problems.append(f"check {spec.asset_key.to_user_string()}:{spec.name}")
    for job in defs.resolve_all_job_defs():
        if not job.name.startswith("__") and not one_line(job.description):
            problems.append(f"job {job.name}")
    for item in [*(defs.schedules or []), *(defs.sensors or [])]:
        if not one_line(item.description):
            problems.append(f"{type(item).__name__} {item.name}")
    assert not problems, "no one-line description:\n" + "\n".join(problems)


def test_schedules_and_sensors_run_by_default_or_readme_says_why(defs):
    off = {s.name for s in defs.schedules or []
           if s.default_status != dg.DefaultScheduleStatus.RUNNING}
    off |= {s.name for s in defs.sensors or []
            if s.default_status != dg.DefaultSensorStatus.RUNNING}
    assert off == OFF_BY_DEFAULT
    readme = README.read_text()
    assert all(name in readme for name in off)

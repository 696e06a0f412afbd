"""A snapshot of what the Dagster UI shows: asset keys, jobs, schedules, sensors.

When a change adds or removes a definition on purpose, update the lists here in the same
commit; anything else that changes them is a regression someone would see in the UI.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg

from persys_pipelines.definitions import build_definitions

TABLES = ["daily_projections", "daily_summaries", "health_metrics", "journal_entries",
          "shadow_work", "tasks", "transactions", "voice_messages"]

EXPECTED_ASSETS = sorted([f"core/{t}" for t in TABLES] + ["daily_projection", "daily_summary"]
                         + ["monitoring/daily_report", "monitoring/daily_uptime",
                            "monitoring/free_tier_usage"] + ["voice_briefing"])
EXPECTED_JOBS: list[str] = ["daily_morning_job", "monitoring_daily_job", "voice_briefing_job"]
EXPECTED_SCHEDULES: list[str] = ["daily_morning_schedule", "monitoring_daily_schedule",
                                   "voice_briefing_schedule"]
EXPECTED_SENSORS: list[str] = ["core_quota_sensor", "health_check_sensor",
                                "run_failure_notify_sensor"]

# the archive tier: one monthly asset per table, its job, purge job/schedule, sensor
EXPECTED_ASSETS = sorted(EXPECTED_ASSETS + [f"archive/{t}" for t in TABLES])
EXPECTED_JOBS = sorted(EXPECTED_JOBS + ["archive_monthly", "archive_purge",
                                         "archive_drill"])
EXPECTED_SCHEDULES = sorted(EXPECTED_SCHEDULES + ["archive_purge_weekly",
                                                   "archive_drill_monthly"])
EXPECTED_SENSORS = sorted(EXPECTED_SENSORS + ["archive_due", "purge_notice"])

# the lifecycle: main/<table> per table, the core→main job and its nightly schedule
EXPECTED_ASSETS = sorted(EXPECTED_ASSETS + [f"main/{t}" for t in TABLES])
EXPECTED_JOBS = sorted(EXPECTED_JOBS + ["lifecycle_core_to_main"])
EXPECTED_SCHEDULES = sorted(EXPECTED_SCHEDULES + ["lifecycle_nightly"])

# catch-up and freshness: the catch-up sensor and job, the hourly freshness alert
EXPECTED_JOBS = sorted(EXPECTED_JOBS + ["daily_catch_up_job"])
EXPECTED_SCHEDULES = sorted(EXPECTED_SCHEDULES + ["daily_freshness_alert"])
EXPECTED_SENSORS = sorted(EXPECTED_SENSORS + ["daily_catch_up"])
# backups of core and main: one job, core daily and main weekly
EXPECTED_JOBS = sorted(EXPECTED_JOBS + ["backup_tier"])
# imports: one asset per kind of export, its job, the inbox sensor
EXPECTED_ASSETS = sorted(EXPECTED_ASSETS + [f"imports/{k}" for k in (
    "apple_health", "ofx", "csv", "ics", "dayone", "markdown")])
EXPECTED_JOBS = sorted(EXPECTED_JOBS + ["import_file"])
EXPECTED_SENSORS = sorted(EXPECTED_SENSORS + ["imports_inbox"])
EXPECTED_SCHEDULES = sorted(EXPECTED_SCHEDULES + ["backup_core_daily", "backup_main_weekly"])
# insight: the weekly correlations, their job and Monday schedule
EXPECTED_ASSETS = sorted(EXPECTED_ASSETS + ["weekly_correlations"])
EXPECTED_JOBS = sorted(EXPECTED_JOBS + ["weekly_insight_job"])
EXPECTED_SCHEDULES = sorted(EXPECTED_SCHEDULES + ["weekly_insight_schedule"])
# Supabase's pause guard: a real query of core at least every keepalive_days
EXPECTED_SENSORS = sorted(EXPECTED_SENSORS + ["supabase_pause_guard"])
# the Dagster instance stays bounded: old runs deleted daily, partition status kept
EXPECTED_JOBS = sorted(EXPECTED_JOBS + ["instance_retention"])
EXPECTED_SCHEDULES = sorted(EXPECTED_SCHEDULES + ["instance_retention_daily"])


def test_definitions_snapshot(cfg, config_path):
    defs = build_definitions(cfg, str(config_path))
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.get_all_asset_keys()) == EXPECTED_ASSETS
    jobs = sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__"))
    assert jobs == EXPECTED_JOBS
    assert sorted(s.name for s in defs.schedules or []) == EXPECTED_SCHEDULES
    assert sorted(s.name for s in defs.sensors or []) == EXPECTED_SENSORS


def test_dagster_definitions_validate(config_path, make_database, monkeypatch):
    """`dagster definitions validate -w workspace.yaml` in the project folder, which also loads
    the project's dagster.yaml (PostgreSQL instance storage, as `persys up` sets it)."""
    root = Path(__file__).resolve().parents[2]
    dsn = make_database("dagster")
    monkeypatch.setenv("PERSYS_DAGSTER_PG_URL", dsn.replace("postgresql://", "postgresql+psycopg2://"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w",
         str(root / "workspace.yaml")],
        capture_output=True, text=True, timeout=300, cwd=root,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# retries: what calls out over the network retries with backoff; moves and local
# work do not (a move repairs itself on the next run, see run_retries in dagster.yaml)
NETWORK_STEPS = sorted(["voice_briefing", "monitoring/free_tier_usage"]
                       + [f"archive/{t}" for t in TABLES])


def test_retry_policies_snapshot(cfg, config_path):
    from persys_pipelines.defs.archive.purge import purge_expired
    from persys_pipelines.defs.retries import NETWORK_RETRY

    defs = build_definitions(cfg, str(config_path))
    graph = defs.resolve_asset_graph()
    with_retry = sorted(k.to_user_string() for k in graph.get_all_asset_keys()
                        if graph.get(k).is_materializable
                        and defs.resolve_assets_def(k).op.retry_policy is not None)
    assert with_retry == NETWORK_STEPS
    assert all(defs.resolve_assets_def(dg.AssetKey.from_user_string(k)).op.retry_policy
               == NETWORK_RETRY for k in with_retry)
    assert purge_expired in defs.resolve_job_def("archive_purge").all_node_defs
    assert purge_expired.retry_policy == NETWORK_RETRY

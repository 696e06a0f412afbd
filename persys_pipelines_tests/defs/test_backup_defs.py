"""The backup job runs through Dagster; its schedules follow `backup:` in persys.yaml."""

from __future__ import annotations

import dagster as dg

from persys_pipelines.definitions import build_definitions
from persys_pipelines.defs import backup
from persys_pipelines.handles import archive_stores, setup_tiers
from persys_pipelines.lib.backup import snapshot


def test_backup_job_and_schedules(cfg, config_path):
    setup_tiers(cfg)
    defs = build_definitions(cfg, str(config_path))
    job = defs.resolve_job_def(backup.JOB_NAME)
    result = job.execute_in_process(
        run_config={"ops": {"take_backup": {"config": {"tier": "main"}}}},
        resources={"persys_config": defs.resources["persys_config"]})
    assert result.success
    assert [b.tier for b in snapshot.list_backups(archive_stores(cfg).primary)] == ["main"]
    off = cfg.model_copy(update={"backup": cfg.backup.model_copy(update={"main_schedule": "off"})})
    assert [s.name for s in backup.backup_schedules(off)] == ["backup_core_daily"]
    sched = {s.name: s for s in backup.backup_schedules(cfg)}["backup_main_weekly"]
    assert sched.cron_schedule == backup.CRONS["weekly"]
    assert isinstance(sched, dg.ScheduleDefinition)

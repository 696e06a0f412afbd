"""Backup wiring: the `backup_tier` job (one op `take_backup`, the tier as op config) and
its schedules, core daily and main weekly by default (`backup:` in persys.yaml). The work is
lib/backup; a failed run is alerted by the run-failure sensor like any other job."""

import dagster as dg

from ... import handles
from ...lib.archive.format import ArchiveFormatError
from ...lib.backup import snapshot
from ...lib.config import Config
from ..resources import PersysConfigResource
from ..retries import NETWORK_RETRY, terminal_errors

JOB_NAME = "backup_tier"
CRONS = {"daily": "30 3 * * *", "weekly": "30 4 * * 0"}  # after the night's moves and purge


class BackupConfig(dg.Config):
    tier: str = "core"  # core | main


@dg.op(name="take_backup", retry_policy=NETWORK_RETRY,  # a new id each try: nothing doubles
       description="Back up one tier's tables into the archive store, then apply retention.")
def backup_tier_op(context: dg.OpExecutionContext, config: BackupConfig,
                   persys_config: PersysConfigResource) -> None:
    cfg = persys_config.load()
    with terminal_errors():
        b = handles.backup(cfg, config.tier)
    context.log.info(f"backup {b.id} of {config.tier}: {b.rows} rows")
    context.add_output_metadata({"tier": config.tier, "id": b.id, "rows": b.rows,
                                 "bytes": b.bytes, "tables": len(b.manifest["tables"]),
                                 "refused": b.refused})
    if b.refused:  # the others are backed up; the run fails so the person hears of it
        with terminal_errors():
            raise ArchiveFormatError("; ".join(f"{t}: {why}" for t, why in b.refused.items()))


@dg.job(name=JOB_NAME, description="An encrypted, checksummed Parquet backup of core or main.")
def backup_job() -> None:
    backup_tier_op()


def backup_schedules(cfg: Config) -> list[dg.ScheduleDefinition]:
    """One schedule per tier whose `backup.<tier>_schedule` is not off."""
    out = []
    for tier in snapshot.TIERS:
        every = getattr(cfg.backup, f"{tier}_schedule")
        if every == "off":
            continue
        out.append(dg.ScheduleDefinition(
            name=f"backup_{tier}_{every}", job=backup_job, cron_schedule=CRONS[every],
            execution_timezone=cfg.timezone, default_status=dg.DefaultScheduleStatus.RUNNING,
            run_config={"ops": {"take_backup": {"config": {"tier": tier}}}},
            description=f"Back up {tier} ({every}), keep the newest {cfg.backup.keep}."))
    return out


def definitions(cfg: Config) -> dg.Definitions:
    return dg.Definitions(jobs=[backup_job], schedules=backup_schedules(cfg))

"""`imports_inbox`: one import run per new file in the inbox (run key: the file's sha256)."""

from __future__ import annotations

import dagster as dg

from ...lib.config import Config
from ...lib.imports.inbox import scan
from .assets import import_key

SENSOR_NAME = "imports_inbox"


def inbox_folder(cfg: Config):
    from pathlib import Path

    return Path(cfg.imports.inbox).expanduser() if cfg.imports.inbox else cfg.home / "inbox"


def run_request(kind: str, path: str, sha256: str) -> dg.RunRequest:
    step = import_key(kind).to_python_identifier()
    return dg.RunRequest(
        run_key=sha256,
        asset_selection=[import_key(kind)],
        run_config={"ops": {step: {"config": {"path": path, "sha256": sha256}}}},
        tags={"persys/import_kind": kind, "persys/import_sha256": sha256},
    )


def inbox_sensor(cfg: Config, job) -> dg.SensorDefinition:
    folder = inbox_folder(cfg)

    @dg.sensor(name=SENSOR_NAME, job=job, minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Imports each new file dropped in {folder} (once per sha256).")
    def _inbox(context: dg.SensorEvaluationContext):
        found, unknown, cursor = scan(folder, context.cursor)
        context.update_cursor(cursor)
        for path in unknown:
            context.log.warning(f"{path}: not a kind persys imports; put it in "
                                f"{folder}/<kind>/ (apple-health, ofx, csv, ics, dayone, "
                                "markdown)")
        if not found:
            return dg.SkipReason(f"no new file in {folder}")
        return [run_request(f.kind, str(f.path), f.sha256) for f in found]

    return _inbox

"""The Dagster instance home: `<home>/dagster`, stored in the embedded PostgreSQL.

Plain file work (no Dagster import): copy the project's dagster.yaml into DAGSTER_HOME and put
the storage URL in the environment that dagster.yaml reads it from; `instance_storage_url` is
what the storage class named in dagster.yaml asks when plain `dagster` runs in the folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..config import DagsterInstanceRetention, load_config
from .tiers import dagster_storage_url

PROJECT_ROOT = Path(__file__).resolve().parents[3]
URL_ENV = "PERSYS_DAGSTER_PG_URL"


def prepare_dagster_home(home: Path, instance: DagsterInstanceRetention | None = None) -> Path:
    """Create `<home>/dagster` with dagster.yaml, set DAGSTER_HOME and the storage URL env
    (the embedded server's database, unless PERSYS_DAGSTER_PG_URL already names another).
    With `instance` (persys.yaml's `instance:`), the ticks' retention comes from it."""
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    if instance is not None:
        write_retention(dagster_home / "dagster.yaml", instance)
    if not os.environ.get(URL_ENV):
        os.environ[URL_ENV] = dagster_storage_url(home)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


def tick_retention(i: DagsterInstanceRetention) -> dict:
    """dagster.yaml's `retention:` from persys.yaml's `instance:`."""
    days = {"skipped": i.keep_skipped_ticks_days, "success": i.keep_ticks_days,
            "failure": i.keep_ticks_days, "started": i.keep_ticks_days}
    return {"schedule": {"purge_after_days": dict(days)},
            "sensor": {"purge_after_days": dict(days)}}


def write_retention(path: Path, instance: DagsterInstanceRetention) -> None:
    """Replace the `retention:` of the dagster.yaml at `path` (its other keys stay)."""
    import yaml

    doc = yaml.safe_load(path.read_text()) or {}
    doc["retention"] = tick_retention(instance)
    path.write_text("# Written by persys from the project's dagster.yaml and persys.yaml's "
                    "`instance:`.\n" + yaml.safe_dump(doc, sort_keys=False))


def instance_storage_url() -> str:
    """PERSYS_DAGSTER_PG_URL when set (`persys up`/`demo`, or the person's own server), else
    the persys_dagster database of the embedded server under persys.yaml's `home`, started or
    attached on demand: so `dagster dev` in the folder records where `persys up` shows."""
    explicit = os.environ.get(URL_ENV)
    if explicit:
        return explicit
    return dagster_storage_url(load_config().home)


def workspace_file() -> Path:
    return PROJECT_ROOT / "workspace.yaml"

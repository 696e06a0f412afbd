"""Plain Dagster in the project folder, as in a fresh clone with no variable set: the root
dagster.yaml's storage class starts the embedded PostgreSQL of persys.yaml's `home`, and the run
lands in the instance `persys up` shows (database persys_dagster)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psycopg

from persys_pipelines.lib.pg.instance import prepare_dagster_home
from persys_pipelines.lib.pg.tiers import embedded_uri, stop_embedded

ROOT = Path(__file__).resolve().parents[2]
PARTITION = "2024-03-01"


def clean_env(config_path: Path) -> dict[str, str]:
    """The caller's environment without DAGSTER_HOME or any PERSYS_* but PERSYS_CONFIG."""
    env = {k: v for k, v in os.environ.items()
           if k != "DAGSTER_HOME" and not k.startswith("PERSYS_")}
    env["PERSYS_CONFIG"] = str(config_path)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def dagster(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dagster", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env=env)


def test_dg_check_defs_in_a_fresh_folder(config_path, tmp_path):
    """`dg check defs` (Dagster's project CLI) loads the definitions with no variable set."""
    home = tmp_path / "home"
    env = clean_env(config_path)
    dg_cli = Path(sys.executable).parent / "dg"
    try:
        check = subprocess.run([str(dg_cli), "check", "defs"], capture_output=True, text=True,
                               timeout=300, cwd=ROOT, env=env)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "All definitions loaded successfully" in check.stdout + check.stderr
    finally:
        stop_embedded(home)


def test_plain_dagster_records_in_the_embedded_instance(config_path, tmp_path, monkeypatch):
    home = tmp_path / "home"
    env = clean_env(config_path)
    try:
        validate = dagster("definitions", "validate", "-w", "workspace.yaml", env=env)
        assert validate.returncode == 0, validate.stdout + validate.stderr
        run = dagster("asset", "materialize", "-m", "persys_pipelines.definitions",
                      "--select", "monitoring/daily_uptime", "--partition", PARTITION, env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "PostProcessingError" not in run.stderr

        with psycopg.connect(embedded_uri(home, "persys_dagster")) as conn:
            statuses = conn.execute("select status from runs").fetchall()
        assert statuses == [("SUCCESS",)]

        # and `persys up`'s view of the instance (DAGSTER_HOME=<home>/dagster) shows that run
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
        monkeypatch.setenv("PERSYS_DAGSTER_PG_URL", "unset")
        monkeypatch.delenv("PERSYS_DAGSTER_PG_URL")  # none named: the embedded server's
        prepare_dagster_home(home)
        with dg.DagsterInstance.get() as instance:
            records = instance.get_run_records()
            assert [r.dagster_run.tags.get("dagster/partition") for r in records] == [PARTITION]
            assert records[0].dagster_run.is_success
    finally:
        stop_embedded(home)

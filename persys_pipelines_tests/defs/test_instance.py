"""The Dagster instance lives in the embedded PostgreSQL (database persys_dagster): runs and
events really land there, through the postgresql+psycopg2 URL."""

from __future__ import annotations

import os

import dagster as dg
import psycopg

from persys_pipelines.lib.pg.instance import prepare_dagster_home
from persys_pipelines.lib.pg.tiers import embedded_uri, stop_embedded


@dg.asset
def probe() -> int:
    return 1


def test_runs_and_events_land_in_postgres(tmp_path, monkeypatch):
    home = tmp_path / "home"
    # setenv first so that monkeypatch restores both after prepare_dagster_home changes them
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("PERSYS_DAGSTER_PG_URL", "unset")
    monkeypatch.delenv("PERSYS_DAGSTER_PG_URL")  # none named: the embedded server's
    try:
        dagster_home = prepare_dagster_home(home)
        assert (dagster_home / "dagster.yaml").exists()
        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            result = dg.materialize([probe], instance=instance)
            assert result.success
        with psycopg.connect(embedded_uri(home, "persys_dagster")) as conn:
            runs = conn.execute("select count(*) from runs where run_id = %s",
                                (result.run_id,)).fetchone()[0]
            events = conn.execute("select count(*) from event_logs where run_id = %s",
                                  (result.run_id,)).fetchone()[0]
        assert runs == 1 and events > 5
    finally:
        stop_embedded(home)


def test_an_instance_server_named_in_the_environment_is_kept(tmp_path, monkeypatch):
    """PERSYS_DAGSTER_PG_URL names the person's own instance server: preparing the instance
    home keeps it and starts no embedded server for it."""
    from persys_pipelines.lib.pg.tiers import embedded_running

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    url = "postgresql+psycopg2://dagster@db.example/dagster"
    monkeypatch.setenv("PERSYS_DAGSTER_PG_URL", url)
    prepare_dagster_home(tmp_path / "home")
    assert os.environ["PERSYS_DAGSTER_PG_URL"] == url
    assert embedded_running(tmp_path / "home") is None

"""The instance storage named in dagster.yaml: dagster-postgres, pointed at the persys instance.

dagster.yaml cannot read a URL that only `persys up` puts in the environment without failing
everywhere else (plain `dagster dev`, `dagster asset materialize`, `dagster definitions
validate` in a fresh clone). This class resolves it when Dagster builds the instance: an
explicit `postgres_url` in the config, else PERSYS_DAGSTER_PG_URL, else the embedded server of
persys.yaml's `home` (lib/pg/instance.py). Every process Dagster starts (webserver, daemon, run
workers) rebuilds it from the same config and so reaches the same database.

One connection per process, not one per statement: dagster-postgres opens a new PostgreSQL
connection for every statement (SQLAlchemy's NullPool) except in the webserver, which asks its
storages for a pooled engine (`optimize_for_webserver`). A month's ranged lifecycle run records
~2,600 statements, ~3,300 connections: every process here takes the webserver's pooled engine
(`pool: true`, the default), which halved the bookkeeping of such a run (bench/RESULTS.md,
issue 24). Idle pooled connections are recycled after `pool_recycle_s`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_postgres import DagsterPostgresStorage

from ..lib.pg.instance import instance_storage_url

POOL_RECYCLE_S = 3600
MAX_OVERFLOW = 10  # connections beyond the held one while threads overlap (daemon, webserver)


class PersysStorage(DagsterPostgresStorage):
    """DagsterPostgresStorage whose URL defaults to the persys instance database."""

    @classmethod
    def config_type(cls) -> dict[str, dg.Field]:
        return {
            "postgres_url": dg.Field(dg.StringSource, is_required=False),
            "should_autocreate_tables": dg.Field(bool, is_required=False, default_value=True),
            "pool": dg.Field(bool, is_required=False, default_value=True),
            "pool_recycle_s": dg.Field(int, is_required=False, default_value=POOL_RECYCLE_S),
        }

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Mapping[str, Any]
                          ) -> PersysStorage:
        storage = cls(
            postgres_url=config_value.get("postgres_url") or instance_storage_url(),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            inst_data=inst_data,
        )
        if config_value.get("pool", True):
            storage.pool_connections(config_value.get("pool_recycle_s", POOL_RECYCLE_S))
        return storage

    def pool_connections(self, recycle_s: int) -> None:
        """The webserver's pooled engine for each storage: one connection held per process
        (more only while threads overlap), no statement timeout set."""
        for part in (self.run_storage, self.event_log_storage, self.schedule_storage):
            part.optimize_for_webserver(statement_timeout=0, pool_recycle=recycle_s,
                                        max_overflow=MAX_OVERFLOW)

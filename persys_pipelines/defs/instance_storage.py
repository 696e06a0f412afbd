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

Whether a table exists is asked once per process, not per event: dagster-postgres checks for
its asset event tags table before storing each materialization's tags, on a second connection
(the held one is in the event's transaction), which the pool opens and closes every time. A
lifecycle run that moved three months of days spent ~5 s of its 23 s there (bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_postgres import DagsterPostgresStorage, PostgresEventLogStorage

from ..lib.pg.instance import instance_storage_url

POOL_RECYCLE_S = 3600
MAX_OVERFLOW = 10  # connections beyond the held one while threads overlap (daemon, webserver)


class PersysEventLogStorage(PostgresEventLogStorage):
    """PostgresEventLogStorage that remembers the tables it found (tables are not dropped
    while a process runs; one not found yet is asked again)."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True) -> None:
        super().__init__(postgres_url, should_autocreate_tables)
        self._found_tables: set[str] = set()

    def has_table(self, table_name: str) -> bool:
        if table_name in self._found_tables:
            return True
        found = super().has_table(table_name)
        if found:
            self._found_tables.add(table_name)
        return found


class PersysStorage(DagsterPostgresStorage):
    """DagsterPostgresStorage whose URL defaults to the persys instance database."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: Any = None) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data)
        self._persys_events = PersysEventLogStorage(postgres_url, should_autocreate_tables)

    @property
    def event_log_storage(self) -> PersysEventLogStorage:
        return self._persys_events

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

"""The instance storage named in dagster.yaml: dagster-postgres, pointed at the persys instance.

dagster.yaml cannot read a URL that only `persys up` puts in the environment without failing
everywhere else (plain `dagster dev`, `dagster asset materialize`, `dagster definitions
validate` in a fresh clone). This class resolves it when Dagster builds the instance: an
explicit `postgres_url` in the config, else PERSYS_DAGSTER_PG_URL, else the embedded server of
persys.yaml's `home` (lib/pg/instance.py). Every process Dagster starts (webserver, daemon, run
workers) rebuilds it from the same config and so reaches the same database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_postgres import DagsterPostgresStorage

from ..lib.pg.instance import instance_storage_url


class PersysStorage(DagsterPostgresStorage):
    """DagsterPostgresStorage whose URL defaults to the persys instance database."""

    @classmethod
    def config_type(cls) -> dict[str, dg.Field]:
        return {
            "postgres_url": dg.Field(dg.StringSource, is_required=False),
            "should_autocreate_tables": dg.Field(bool, is_required=False, default_value=True),
        }

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Mapping[str, Any]
                          ) -> PersysStorage:
        return cls(
            postgres_url=config_value.get("postgres_url") or instance_storage_url(),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            inst_data=inst_data,
        )

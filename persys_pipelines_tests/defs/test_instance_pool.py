"""persys's instance storage holds its connections: a ranged run's ~10 statements per partition
reuse one connection instead of opening one each (dagster-postgres' NullPool default)."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from persys_pipelines.defs.tags import partition_range
from persys_pipelines_tests.retention_defs import KEY, defs


def connections_for_a_ranged_run(url: str, pool: bool, days: int = 10) -> tuple[int, int]:
    """(new DBAPI connections, statements) while a ranged run of `days` days is recorded."""
    counts = {"connect": 0, "statements": 0}

    def on_connect(*_a) -> None:
        counts["connect"] += 1

    def on_statement(*_a) -> None:
        counts["statements"] += 1

    storage = {"custom": {"module": "persys_pipelines.defs.instance_storage",
                          "class": "PersysStorage",
                          "config": {"postgres_url": url, "pool": pool}}}
    with dg.instance_for_test(overrides={"storage": storage}) as instance:
        event.listen(Engine, "connect", on_connect)
        event.listen(Engine, "after_cursor_execute", on_statement)
        try:
            result = defs.resolve_job_def("days_job").execute_in_process(
                instance=instance, tags=partition_range("2024-01-01", f"2024-01-{days:02d}"))
        finally:
            event.remove(Engine, "connect", on_connect)
            event.remove(Engine, "after_cursor_execute", on_statement)
        assert result.success
        assert len(instance.get_materialized_partitions(KEY)) == days
    return counts["connect"], counts["statements"]


def test_a_run_reuses_its_connections(make_database):
    pooled = connections_for_a_ranged_run(
        make_database("dagster").replace("postgresql://", "postgresql+psycopg2://", 1), True)
    unpooled = connections_for_a_ranged_run(
        make_database("dagster").replace("postgresql://", "postgresql+psycopg2://", 1), False)
    assert pooled[1] > 50 and unpooled[1] > 50  # the same run, the same statements
    # as dagster-postgres comes: about one connection per statement; pooled: the few its
    # storages open while they are set up
    assert unpooled[0] > unpooled[1] / 2, unpooled
    assert pooled[0] * 5 < unpooled[0], (pooled, unpooled)


def test_connections_do_not_grow_with_the_days_recorded(make_database):
    """Each materialization's tags used to open a connection to ask whether their table
    exists (the pool holds one, busy with the event); persys's storage asks once."""
    three = connections_for_a_ranged_run(
        make_database("dagster").replace("postgresql://", "postgresql+psycopg2://", 1), True,
        days=3)
    ten = connections_for_a_ranged_run(
        make_database("dagster").replace("postgresql://", "postgresql+psycopg2://", 1), True)
    assert ten[1] > three[1] + 40  # more partitions recorded, more statements
    assert ten[0] == three[0], (three, ten)

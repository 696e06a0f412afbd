"""Run retention through the public DagsterInstance API, keeping every partition's status.

Deleting a run (`DagsterInstance.delete_run`) deletes its events, its materializations among
them: a partition last materialized by a deleted run would show as missing (and after a
change of `start_date` or `timezone`, when Dagster rebuilds its partition status cache from
the event log, as never materialized). So before a run is deleted, every partition whose
*latest* materialization is in that run gets one runless materialization
(`report_runless_asset_event`) standing for it: the same asset and partition, the run's
numeric metadata (rows, days, bytes), `persys/summary_of_run` (the deleted run's id) and
`persys/materialized_at` (when the run materialized it). The UI then shows the partition as
materialized, with what the run counted, and Dagster's own status queries agree. That keeps
one small event per (asset, partition) once its runs are gone (~1.5 kB with its index entries,
bench/instance_size.py), in place of the run's whole log (step events, logs, plans, checks).

What is deleted: finished runs (success, failure, canceled) created before the cut-off, with
their event logs (Dagster), and their asset check executions, which `delete_run` leaves
behind in `asset_check_executions` (checked in Dagster 1.13): those rows are deleted with SQL
by run id, the one step Dagster offers no API for. Runs still queued or running are never
touched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.CANCELED]
SUMMARY_OF_RUN = "persys/summary_of_run"
MATERIALIZED_AT = "persys/materialized_at"


@dataclass
class Pruned:
    runs: int = 0
    partitions_kept: int = 0  # runless materializations written
    check_rows: int = 0  # asset_check_executions rows of the deleted runs
    more: bool = False  # the batch limit was reached: more runs are due
    notes: list[str] = field(default_factory=list)


def _small(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata worth keeping per partition for years: its numbers (rows, days, bytes...);
    texts, paths, scripts and reports stay with the run (each kept event is ~1 kB, ten years
    of 14 daily assets are 51,000 of them)."""
    out: dict[str, Any] = {}
    for key, entry in metadata.items():
        value = getattr(entry, "value", entry)
        if isinstance(value, bool | int | float):
            out[key] = value
    return out


def _latest_storage_ids(instance: dg.DagsterInstance, key: dg.AssetKey, partitions: list[str],
                        after: int) -> dict[str, int]:
    """Partition → storage id of its latest materialization after `after` (paged)."""
    latest: dict[str, int] = {}
    cursor = None
    while True:
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=partitions,
                                  after_storage_id=after),
            limit=1000, cursor=cursor, ascending=True)
        for record in result.records:
            latest[record.partition_key] = record.storage_id
        if not result.has_more:
            return latest
        cursor = result.cursor


def keep_partition_status(instance: dg.DagsterInstance, run_id: str, kept_days: int) -> int:
    """One runless materialization for each partition whose latest materialization is in
    `run_id`; returns how many."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    by_asset: dict[dg.AssetKey, dict[str, Any]] = defaultdict(dict)
    for record in records:
        mat = record.asset_materialization
        if mat is None or mat.partition is None:
            continue  # an unpartitioned asset's newer runs are kept; nothing to stand for
        by_asset[mat.asset_key][mat.partition] = record
    kept = 0
    for key, partitions in by_asset.items():
        first = min(r.storage_id for r in partitions.values())
        latest = _latest_storage_ids(instance, key, sorted(partitions), first - 1)
        for partition, record in sorted(partitions.items()):
            if latest.get(partition) != record.storage_id:
                continue  # a later run re-materialized it: that one stands for it
            mat = record.asset_materialization
            at = dt.datetime.fromtimestamp(record.timestamp, dt.UTC).isoformat()
            instance.report_runless_asset_event(dg.AssetMaterialization(
                asset_key=key, partition=partition,
                description=f"Kept when run {run_id[:8]} was deleted (runs are kept "
                            f"{kept_days} days: instance.keep_runs_days)",
                metadata={**_small(mat.metadata or {}), SUMMARY_OF_RUN: run_id,
                          MATERIALIZED_AT: dg.MetadataValue.text(at)}))
            kept += 1
    return kept


def old_runs(instance: dg.DagsterInstance, before: dt.datetime, limit: int) -> list[str]:
    """Finished runs created before `before`, oldest first."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=FINISHED, created_before=before), limit=limit,
        order_by="create_timestamp", ascending=True)
    return [r.dagster_run.run_id for r in records]


@contextlib.contextmanager
def check_rows_deleter(instance: dg.DagsterInstance) -> Iterator[Callable[[str], int]]:
    """A function deleting one run's `asset_check_executions` rows (delete_run leaves them),
    on one connection to the instance database; a no-op when the instance is not stored in
    PostgreSQL or has no such table."""
    url = getattr(instance.event_log_storage, "postgres_url", None)
    if not url:
        yield lambda run_id: 0
        return
    import psycopg

    plain = url.replace("postgresql+psycopg2://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        if conn.execute("select to_regclass('asset_check_executions') is null").fetchone()[0]:
            yield lambda run_id: 0
            return
        yield lambda run_id: conn.execute(
            "delete from asset_check_executions where run_id = %s", (run_id,)).rowcount


def prune(instance: dg.DagsterInstance, before: dt.datetime, *, kept_days: int,
          limit: int = 2000) -> Pruned:
    """Delete up to `limit` finished runs created before `before`, each partition they hold
    the latest materialization of kept as a runless summary first. Killed midway, nothing is
    lost: a run whose summaries were written but which was not deleted yet has no latest
    materialization left, so the next prune deletes it without writing them twice."""
    out = Pruned()
    run_ids = old_runs(instance, before, limit)
    with check_rows_deleter(instance) as delete_checks:
        for run_id in run_ids:
            out.partitions_kept += keep_partition_status(instance, run_id, kept_days)
            out.check_rows += delete_checks(run_id)
            instance.delete_run(run_id)
            out.runs += 1
    out.more = len(run_ids) == limit
    return out

"""`archive/<table>`: month M of the table lives in the archive as verified Parquet files.

Depends on `main/<table>` for the days of the month (the month's daily partitions). A ranged
run archives every due month of its window; which months are due comes from main's data
(`archive.due_months`), the first and last partitions also standing for the months beyond.
"""

import datetime as dt

import dagster as dg

from ... import handles
from ...lib.archive import maintenance, manifest
from ...lib.config import Config
from ...lib.monitoring import health
from ...lib.moves import main_archive as archive
from ..lifecycle.assets import run_as_of
from ..lifecycle.schedules import AssetJob
from ..partitions import monthly
from ..resources import ArchiveStoresResource, PersysConfigResource, PostgresTierResource
from ..retries import NETWORK_RETRY, terminal_errors
from ..tags import LIFECYCLE_POOL, MAIN_TO_ARCHIVE, lifecycle

JOB_NAME = "archive_monthly"
CHECK_NAME = "archive_files_verified"


def archive_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["archive", table])


def window_months(context: dg.AssetExecutionContext, partitions: dg.MonthlyPartitionsDefinition
                  ) -> tuple[dt.date | None, dt.date | None]:
    """[first, end) of the run's months; None at the ends of the partitions definition, so
    months before start_date, or after the last partition when running --as-of a later day,
    are archived by the runs that touch the first or last partition."""
    keys = context.partition_key_range
    window = context.partition_time_window
    first = None if keys.start == partitions.get_first_partition_key() else window.start.date()
    last = None if keys.end == partitions.get_last_partition_key() else window.end.date()
    return first, last


def archive_asset(cfg: Config, table: str) -> dg.AssetsDefinition:
    key = archive_key(table)
    policy = cfg.tables[table]
    partitions = monthly(cfg)

    @dg.asset(
        key=key,
        group_name="archive",
        pool=LIFECYCLE_POOL,
        kinds={"parquet"},
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[dg.AssetDep(dg.AssetKey(["main", table]),
                          partition_mapping=dg.TimeWindowPartitionMapping())],
        description=(f"{table} months older than {policy.main_days} days as Parquet (zstd) in "
                     "the archive store: verified read-back, manifest, then deleted from main."),
        check_specs=[dg.AssetCheckSpec(
            CHECK_NAME, asset=key,
            description="Each new file downloads, decrypts, matches its sha256 and row count.")],
        retry_policy=NETWORK_RETRY,  # S3-compatible stores; files are content-addressed
    )
    def _archive(context: dg.AssetExecutionContext, persys_config: PersysConfigResource,
                 main: PostgresTierResource, archive_stores: ArchiveStoresResource
                 ) -> dg.MaterializeResult:
        run_cfg = persys_config.load()
        as_of = run_as_of(context, run_cfg)
        with terminal_errors():
            stores = archive_stores.handle(down=health.known_down(
                run_cfg.health.endpoints, main.handle, "archive:primary"))
            ring = archive_stores.keyring()
            if stores.primary_error:
                context.log.warning(f"primary archive store down, using {stores.active.url}: "
                                    f"{stores.primary_error}")
            tier = main.handle()
            first, last = window_months(context, partitions)
            spec = handles.spec(run_cfg, table)
            months = [month for month in archive.due_months(tier, spec, as_of)
                      if (first is None or month >= first) and (last is None or month < last)]
            results = archive.archive_months(
                handles.engine(run_cfg, run_id=context.run.run_id, main=tier),
                handles.target(run_cfg, stores, ring), spec, months, as_of)
        new = [r for r in results if r.key]
        entries = {e.key: e for e in manifest.read_manifest(stores.active, table).files}
        problems = {r.key: maintenance.check_file(stores.active, ring, entries[r.key])
                    for r in new}
        bad = {k: why for k, why in problems.items() if why}
        # a month holding a value the archive cannot keep exactly stays in main (the others
        # moved): the check fails and names it
        bad |= {f"{r.month:%Y-%m}": r.refused for r in results if r.refused}
        for r in results:
            if r.refused:
                context.log.error(f"{table} {r.month:%Y-%m} stays in main: {r.refused}")
        return dg.MaterializeResult(
            metadata={
                "as_of": dg.MetadataValue.text(as_of.isoformat()),
                "months": dg.MetadataValue.int(len(new)),
                "rows": dg.MetadataValue.int(sum(r.rows for r in results)),
                "bytes": dg.MetadataValue.int(sum(r.bytes for r in new)),
                "files": dg.MetadataValue.json([stores.active.uri(r.key) for r in new]),
                "store": dg.MetadataValue.text(stores.active.url),
                "failover": dg.MetadataValue.bool(stores.active is not stores.primary),
                "refused": dg.MetadataValue.json(
                    {f"{r.month:%Y-%m}": r.refused for r in results if r.refused}),
            },
            check_results=[dg.AssetCheckResult(
                check_name=CHECK_NAME, passed=not bad,
                metadata={"files_checked": dg.MetadataValue.int(len(new)),
                          "bad": dg.MetadataValue.json(bad)})],
        )

    return _archive


def archive_assets(cfg: Config) -> list[dg.AssetsDefinition]:
    return [archive_asset(cfg, t) for t, p in cfg.tables.items() if p.main_days is not None]


def archive_job(cfg: Config) -> AssetJob:
    keys = [archive_key(t) for t, p in cfg.tables.items() if p.main_days is not None]
    return dg.define_asset_job(
        JOB_NAME, selection=dg.AssetSelection.assets(*keys),
        description="Archive due months of a table from main into Parquet files.",
        run_tags=lifecycle(MAIN_TO_ARCHIVE))

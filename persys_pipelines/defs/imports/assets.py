"""`imports/<kind>`: one file of that kind imported into the tier each of its days belongs in.

The run's config names the file (`path`), and optionally `as_of` and `dry_run`; the inbox
sensor and `persys import` fill it in. The materialization's metadata holds the counts per
table and tier and the coverage report; the asset's description and `feeds` name the table
(with `core/`, `main/` and `archive/` of it) the import writes.
"""


import datetime as dt
from pathlib import Path

import dagster as dg

from ...lib.config import Config
from ...lib.config.imports import KINDS
from ..resources import ArchiveStoresResource, PersysConfigResource, PostgresTierResource
from ..tags import LIFECYCLE_POOL

JOB_NAME = "import_file"


class ImportConfig(dg.Config):
    path: str
    as_of: str | None = None  # YYYY-MM-DD: route as if today were this day
    dry_run: bool = False
    sha256: str | None = None  # known already (the inbox sensor): not hashed again


def import_key(kind: str) -> dg.AssetKey:
    return dg.AssetKey(["imports", kind.replace("-", "_")])


def import_asset(cfg: Config, kind: str) -> dg.AssetsDefinition:
    target = cfg.imports.target(kind)

    @dg.asset(
        key=import_key(kind),
        group_name="imports",
        pool=LIFECYCLE_POOL,
        kinds={"postgres", "parquet"},
        description=(f"A {kind} export imported into {target.table}: recent days in core, "
                     "older in main, months past main_days in the archive; idempotent by "
                     "natural key. Feeds " + ", ".join(
                         f"{tier}/{target.table}" for tier in ("core", "main", "archive"))),
        metadata={"feeds": dg.MetadataValue.json(
            [f"{tier}/{target.table}" for tier in ("core", "main", "archive")])},
    )
    def _import(context: dg.AssetExecutionContext, config: ImportConfig,
                persys_config: PersysConfigResource, core: PostgresTierResource,
                main: PostgresTierResource, archive_stores: ArchiveStoresResource
                ) -> dg.MaterializeResult:
        from ... import handles
        from ...lib.imports.coverage import coverage_lines, coverage_markdown

        loaded = persys_config.load()
        today = dt.date.fromisoformat(config.as_of) if config.as_of else None
        report = handles.import_file(
            loaded, kind, Path(config.path), today=today, dry_run=config.dry_run,
            sha256=config.sha256, core=core.handle(), main=main.handle(),
            stores=archive_stores.handle(), ring=archive_stores.keyring(),
            run_id=context.run.run_id)
        for line in coverage_lines(report):
            context.log.info(line)
        meta: dict = {"file": report.name, "sha256": report.sha256,
                      "records": report.tally.records, "rows": report.spooled.rows,
                      "coverage": dg.MetadataValue.md(coverage_markdown(report)),
                      "coverage_text": "\n".join(coverage_lines(report)),
                      "dry_run": report.dry_run}
        if report.delivered is not None:
            for (table, tier), n in sorted(report.delivered.new.items()):
                meta[f"new/{tier}/{table}"] = n
            meta["already_present"] = sum(report.delivered.present.values())
            meta["dagster/row_count"] = sum(report.delivered.new.values())
        return dg.MaterializeResult(metadata=meta)

    return _import


def import_assets(cfg: Config) -> list[dg.AssetsDefinition]:
    return [import_asset(cfg, kind) for kind in KINDS]


def import_job():
    return dg.define_asset_job(JOB_NAME, selection=dg.AssetSelection.groups("imports"),
                               description="Import one exported file (run config names it).")

"""`main/<table>`: day D of the table lives in the main tier. One factory, one asset per table.

A ranged run (`BackfillPolicy.single_run()`) moves every due day of its partition window in one
go; which days are due comes from core's data (lib/planner.py), not from partition status. The
first partition also stands for every older day, and the last one for everything up to the
cutoff, so data from before `start_date` or an `as_of` beyond today is never stranded.
A run tagged `persys/move_core_before=D` (the core quota sensor's emergency migration) also
moves every core day before D, ahead of the policy; its partition window still bounds the days.
"""


import datetime as dt

import dagster as dg

from ... import handles
from ...lib.config import Config
from ...lib.config.imports import KINDS
from ...lib.monitoring.units import human_bytes, plural
from ...lib.moves.engine import Progress
from ...lib.tiering import lifecycle
from ..partitions import daily, open_ends, window_days
from ..resources import PersysConfigResource, PostgresTierResource
from ..tags import AS_OF_TAG, LIFECYCLE_POOL, MOVE_BEFORE_TAG
from .sources import core_observation

CHECK_NAME = "moved_range_left_core"


def main_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["main", table])


def run_as_of(context: dg.AssetExecutionContext, cfg: Config) -> dt.date:
    tag = context.run.tags.get(AS_OF_TAG)
    return dt.date.fromisoformat(tag) if tag else cfg.today()


def run_move_before(context: dg.AssetExecutionContext) -> dt.date | None:
    tag = context.run.tags.get(MOVE_BEFORE_TAG)
    return dt.date.fromisoformat(tag) if tag else None



def imports_feeding(cfg: Config, table: str) -> list[dg.AssetKey]:
    """The `imports/<kind>` assets whose rows go into `table` (persys.yaml's imports:)."""
    from ..imports.assets import import_key

    return [import_key(kind) for kind in KINDS if cfg.imports.target(kind).table == table]


def main_asset(cfg: Config, table: str) -> dg.AssetsDefinition:
    key = main_key(table)
    partitions = daily(cfg)
    policy = cfg.tables[table]

    @dg.asset(
        key=key,
        group_name="main",
        pool=LIFECYCLE_POOL,
        kinds={"postgres"},
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        # the imports that write this table's older days straight into main feed it too
        deps=[dg.AssetKey(["core", table]), *imports_feeding(cfg, table)],
        description=(f"{table} days older than {policy.core_days} days, moved from core to main "
                     "(copy, verify count and checksum, delete in core, ledger); imported "
                     "history of those days lands here directly."),
        check_specs=[dg.AssetCheckSpec(
            CHECK_NAME, asset=key,
            description="Rows of the moved days still in core: none, or only rows the app "
                        "wrote or changed during the move and rows still referenced from core "
                        "(they move on a later run; a warning, never a failed run).")],
    )
    def _move(
        context: dg.AssetExecutionContext,
        persys_config: PersysConfigResource,
        core: PostgresTierResource,
        main: PostgresTierResource,
        progress: dg.ResourceParam[Progress | None],
    ) -> dg.MaterializeResult:
        run_cfg = persys_config.load()
        as_of = run_as_of(context, run_cfg)
        first, last = open_ends(context, partitions, *window_days(context))
        core_tier = core.handle()
        spec = handles.spec(run_cfg, table)
        engine = handles.engine(run_cfg, run_id=context.run.run_id, progress=progress,
                                main=main.handle())
        run = lifecycle.run_table(engine, core_tier, spec, as_of, first=first, last=last,
                                  move_before=run_move_before(context))
        plan = run.plan
        left = lifecycle.remaining_in_core(core_tier, spec, plan.first_day,
                                           plan.last_day) if plan.days else None
        context.log.info(f"{table}: {plural(run.days, 'day')}, {plural(run.rows, 'row')} "
                         f"moved, {human_bytes(run.bytes_returned)} returned")
        context.log_event(core_observation(core_tier, run_cfg, table))  # what core holds now
        for note in dict.fromkeys(n for m in run.moves for n in m.notes):
            context.log.info(f"{table}: {note}")
        space_note = run.space.note if run.space else ""
        metadata = {
            "as_of": dg.MetadataValue.text(as_of.isoformat()),
            "cutoff": dg.MetadataValue.text(plan.cutoff.isoformat()),
            "days": dg.MetadataValue.int(run.days),
            "first_day": dg.MetadataValue.text(str(plan.first_day or "")),
            "last_day": dg.MetadataValue.text(str(plan.last_day or "")),
            "rows": dg.MetadataValue.int(run.rows),
            "bytes_moved": dg.MetadataValue.int(run.bytes_moved),
            "bytes_returned": dg.MetadataValue.int(run.bytes_returned),
            "checksum": dg.MetadataValue.text(run.checksum),
            "partitions_dropped": dg.MetadataValue.int(len(run.partitions_dropped)),
        }
        if space_note:
            metadata["space_note"] = dg.MetadataValue.text(space_note)
        if run.space and run.space.reclaimed:
            metadata["table_bytes_before"] = dg.MetadataValue.int(run.space.reclaimed.bytes_before)
            metadata["table_bytes_after"] = dg.MetadataValue.int(run.space.reclaimed.bytes_after)
        kept = sum(m.kept for m in run.moves)
        held = sum(run.plan.held_back.values())
        check = dg.AssetCheckResult(
            check_name=CHECK_NAME,
            passed=left is None or left.rows == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_kept_by_the_app": dg.MetadataValue.int(kept),
                "rows_held_back_by_references": dg.MetadataValue.int(held),
                "rows_moved": dg.MetadataValue.int(run.rows),
                "rows_left_in_core": dg.MetadataValue.int(left.rows if left else 0),
                "checksum_moved": dg.MetadataValue.text(run.checksum),
                "checksum_left_in_core": dg.MetadataValue.text(left.text if left else "0:0"),
            },
        )
        return dg.MaterializeResult(metadata=metadata, check_results=[check])

    return _move


def main_assets(cfg: Config) -> list[dg.AssetsDefinition]:
    return [main_asset(cfg, table) for table in cfg.tables]

"""core→main for one table: plan from the data, move month by month, give the space back.

Both the Dagster asset `main/<table>` and the tests call `run_table`; the CLI runs the asset.
Every row that moves goes through the engine's routes (lib/moves): core→main, and DEFAULT →
month partition for rows that landed in a partitioned table's DEFAULT.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..moves import core_main, partition
from ..moves.engine import Engine
from ..pg import partitions as space
from ..pg.catalog import table_columns, table_exists
from ..pg.fingerprint import NO_ROWS, Fingerprint, of_table
from ..pg.session import pin_session
from ..pg.tables import TableSpec
from ..pg.tiers import PgTier
from . import planner


@dataclass
class TableRun:
    table: str
    plan: planner.TablePlan
    moves: list[core_main.MoveResult] = field(default_factory=list)
    bytes_returned: int = 0
    space: space.SpaceResult | None = None
    partitions_created: list[str] = field(default_factory=list)
    partitions_refused: dict[str, str] = field(default_factory=dict)  # month → why
    repaired: int = 0  # interrupted moves settled before this run

    @property
    def rows(self) -> int:
        return sum(m.rows for m in self.moves)

    @property
    def bytes_moved(self) -> int:
        return sum(m.bytes for m in self.moves)

    @property
    def checksum(self) -> str:
        """The fingerprint of everything this run moved (order-independent), one per
        algorithm the moves recorded (`rows1` + `typed2` when some were checksummed)."""
        by_algorithm: dict[str, Fingerprint] = {}
        for m in self.moves:
            if m.checksum:
                fp = Fingerprint.parse(m.checksum)
                by_algorithm[fp.algorithm] = by_algorithm.get(
                    fp.algorithm, Fingerprint(0, 0, fp.algorithm)) + fp
        return " + ".join(fp.text for fp in by_algorithm.values()) or NO_ROWS.text

    @property
    def partitions_dropped(self) -> list[str]:
        """Whole months emptied at once by the moves (truncated), then dropped by the space step."""
        return list(dict.fromkeys([p for m in self.moves for p in m.partitions_dropped] + (
            self.space.dropped if self.space else [])))

    @property
    def days(self) -> int:
        return len(self.plan.days)


def plan(core: PgTier, specs: list[TableSpec], as_of: dt.date) -> dict[str, planner.TablePlan]:
    with core.connect(autocommit=True) as conn:
        return {s.name: planner.plan_table(conn, s.name, s.policy, s.zone, as_of) for s in specs}


def run_table(engine: Engine, core: PgTier, spec: TableSpec, as_of: dt.date, *,
              first: dt.date | None = None, last: dt.date | None = None,
              move_before: dt.date | None = None) -> TableRun:
    """Move the due days of the table within [first, last]; report rows, bytes moved/returned.

    `move_before`: also move every day before this date, ahead of the policy (the core quota
    sensor's emergency migration; see planner.plan_table)."""
    rng = core_main.MoveRange(spec.name, spec.policy, spec.zone, None, None)
    repaired = core_main.repair(engine, core, rng)
    with core.connect(autocommit=True) as conn:
        pin_session(conn)
        created, waiting = space.prepare_partitions(conn, spec.name, spec.policy, spec.zone,
                                                    as_of)
    moved_out = partition.from_default(engine, core, spec, waiting)
    with core.connect(autocommit=True) as conn:
        pin_session(conn)
        table_plan = planner.plan_table(conn, spec.name, spec.policy, spec.zone, as_of,
                                        move_before).within(first, last)
    run = TableRun(spec.name, table_plan, partitions_created=created + moved_out.created,
                   partitions_refused=moved_out.refused, repaired=repaired)
    if not table_plan.days:
        run.space = idle_space(core, spec.name, table_plan.cutoff)
        return run
    size_before = core.size_bytes()
    for lo, hi in table_plan.chunks():
        rng = core_main.MoveRange(spec.name, spec.policy, spec.zone, lo, hi)
        run.moves.append(core_main.move_range(engine, core, rng))
    core_main.CORE_MAIN.crash("space")
    with core.connect(autocommit=True) as conn:
        pin_session(conn)
        run.space = space.return_space(core, conn, spec.name, table_plan.cutoff, run.rows)
    run.bytes_returned = max(0, size_before - core.size_bytes())
    record_space(engine, run)
    return run


def idle_space(core: PgTier, table: str, cutoff: dt.date) -> space.SpaceResult | None:
    """Nothing due. A partitioned table drops its empty months before the cutoff: a table
    nobody writes (voice_messages without a briefing) would otherwise keep every month made
    ahead since the first run, and each statement on it would plan them all. A plain table
    whose rewrite an earlier run had to skip (quota, the app's lock) gets it now when it is
    clearly worth it (vacuum.RETRY_FREE_SHARE)."""
    with core.connect(autocommit=True) as conn:
        pin_session(conn)
        if not table_exists(conn, table):
            return None
        result = space.return_space(core, conn, table, cutoff, 0)
    return result if result.dropped or result.rewritten or result.note else None


def record_space(engine: Engine, run: TableRun) -> None:
    """What the space step returned (or why not), in the ledger entry of the run's last move."""
    last = next((m.ledger_id for m in reversed(run.moves) if m.ledger_id), None)
    if last is None or run.space is None:
        return
    detail = {"bytes_returned": run.bytes_returned, "partitions_dropped": run.space.dropped}
    if run.space.reclaimed is not None:
        detail.update(run.space.reclaimed.as_json())
    engine.note(last, space=detail)


def remaining_in_core(core: PgTier, spec: TableSpec, first: dt.date | None,
                      last: dt.date | None) -> Fingerprint:
    """Rows of [first, last] (matching only_when) still in core: the asset check wants 0."""
    rng = core_main.MoveRange(spec.name, spec.policy, spec.zone, first, last)
    with core.connect(autocommit=True) as conn:
        if not table_exists(conn, spec.name):
            return NO_ROWS
        pin_session(conn)
        return of_table(conn, spec.name, list(table_columns(conn, spec.name)),
                        core_main.range_condition(conn, rng))

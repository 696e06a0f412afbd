"""core→main for one table: plan from the data, move month by month, give the space back.

Both the Dagster asset `main/<table>` and the tests call `run_table`; the CLI runs the asset.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..config import Config
from ..pg import ledger, protocol
from ..pg.catalog import table_exists
from ..pg.tiers import PgTier
from . import moves, planner, space


@dataclass
class TableRun:
    table: str
    plan: planner.TablePlan
    moves: list[moves.MoveResult] = field(default_factory=list)
    bytes_returned: int = 0
    space: space.SpaceResult | None = None
    partitions_created: list[str] = field(default_factory=list)
    repaired: int = 0  # interrupted moves settled before this run

    @property
    def rows(self) -> int:
        return sum(m.rows for m in self.moves)

    @property
    def bytes_moved(self) -> int:
        return sum(m.bytes for m in self.moves)

    @property
    def checksum(self) -> str:
        """Rows and summed checksum of everything this run moved (order-independent)."""
        total = sum(int(m.checksum.split(":")[1]) for m in self.moves if m.checksum)
        return f"{self.rows}:{total}"

    @property
    def partitions_dropped(self) -> list[str]:
        """Whole months emptied at once by the moves (truncated), then dropped by the space step."""
        return list(dict.fromkeys([p for m in self.moves for p in m.partitions_dropped] + (
            self.space.dropped if self.space else [])))

    @property
    def days(self) -> int:
        return len(self.plan.days)


def plan(cfg: Config, core: PgTier, as_of: dt.date,
         tables: list[str] | None = None) -> dict[str, planner.TablePlan]:
    with core.connect(autocommit=True) as conn:
        return {t: planner.plan_table(conn, t, cfg.tables[t], cfg.timezone, as_of)
                for t in (tables or list(cfg.tables))}


def run_table(
    cfg: Config,
    core: PgTier,
    main: PgTier,
    table: str,
    as_of: dt.date,
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    run_id: str | None = None,
    progress: moves.Progress | None = None,
    move_before: dt.date | None = None,
) -> TableRun:
    """Move the due days of `table` within [first, last]; report rows, bytes moved/returned.

    `move_before`: also move every day before this date, ahead of the policy (the core quota
    sensor's emergency migration; see planner.plan_table)."""
    policy = cfg.tables[table]
    repaired = moves.repair(core, main, moves.MoveRange(table, policy, cfg.timezone, None, None))
    with core.connect(autocommit=True) as conn:
        protocol.prepare_session(conn)
        created = space.prepare_partitions(conn, table, policy, cfg.timezone, as_of)
        table_plan = planner.plan_table(conn, table, policy, cfg.timezone, as_of,
                                        move_before).within(first, last)
    run = TableRun(table, table_plan, partitions_created=created, repaired=repaired)
    if not table_plan.days:
        run.space = retry_rewrite(core, table)
        return run
    size_before = core.size_bytes()
    for lo, hi in table_plan.chunks():
        rng = moves.MoveRange(table, policy, cfg.timezone, lo, hi)
        run.moves.append(moves.move_range(core, main, rng, run_id=run_id, progress=progress))
    protocol.crash_point("space")
    with core.connect(autocommit=True) as conn:
        protocol.prepare_session(conn)
        run.space = space.return_space(core, conn, table, table_plan.cutoff, run.rows)
    run.bytes_returned = max(0, size_before - core.size_bytes())
    record_space(main, run)
    return run


def retry_rewrite(core: PgTier, table: str) -> space.SpaceResult | None:
    """Nothing due: a plain table whose rewrite an earlier run had to skip (quota, the app's
    lock) gets it now when it is clearly worth it (vacuum.RETRY_FREE_SHARE)."""
    with core.connect(autocommit=True) as conn:
        protocol.prepare_session(conn)
        if not table_exists(conn, table) or space.is_partitioned(conn, table):
            return None
        result = space.return_space(core, conn, table, dt.date.min, 0)
    return result if result.rewritten or result.note else None


def record_space(main: PgTier, run: TableRun) -> None:
    """What the space step returned (or why not), in the ledger entry of the run's last move."""
    last = next((m.ledger_id for m in reversed(run.moves) if m.ledger_id), None)
    if last is None or run.space is None:
        return
    detail = {"bytes_returned": run.bytes_returned, "partitions_dropped": run.space.dropped}
    if run.space.reclaimed is not None:
        detail.update(run.space.reclaimed.as_json())
    with main.connect() as conn:
        ledger.update_detail(conn, last, {"space": detail})
        conn.commit()


def remaining_in_core(cfg: Config, core: PgTier, table: str, first: dt.date | None,
                      last: dt.date | None) -> protocol.Fingerprint:
    """Rows of [first, last] (matching only_when) still in core: the asset check wants 0."""
    rng = moves.MoveRange(table, cfg.tables[table], cfg.timezone, first, last)
    with core.connect(autocommit=True) as conn:
        if not table_exists(conn, table):
            return protocol.Fingerprint(0, 0)
        protocol.prepare_session(conn)
        return protocol.fingerprint(conn, table, moves.range_condition(conn, rng))


# One optional progress callback for whoever drives a run in this process (the CLI's bar);
# the Dagster asset passes it on to the mover without knowing who listens.
_progress_hook: list[moves.Progress] = []


def set_progress_hook(hook: moves.Progress | None) -> None:
    _progress_hook.clear()
    if hook is not None:
        _progress_hook.append(hook)


def progress_hook() -> moves.Progress | None:
    return _progress_hook[0] if _progress_hook else None

"""Crash injection: a mover is killed with SIGKILL at a random point (at a named step of the
protocol, or after a random delay); running again must leave every row in exactly one tier
with nothing lost or doubled, and the ledger without dangling `started` rows."""

from __future__ import annotations

import datetime as dt
import os
import random
import select
import signal
import sys
import time

import pytest

from persys_pipelines import handles
from persys_pipelines import handles as setup_lib
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import TablePolicy
from persys_pipelines.lib.moves import two_streams
from persys_pipelines.lib.moves.engine import CRASH_ENV
from persys_pipelines.lib.pg import ledger
from persys_pipelines.lib.tiering import lifecycle
from persys_pipelines_tests.lifecycle_helpers import assert_conserved, rows_text

TABLES = {  # journal/transactions are month-partitioned in core, tasks is a plain table
    "journal_entries": TablePolicy(day_column="entry_date", core_days=0),
    "transactions": TablePolicy(day_column="occurred_on", core_days=0),
    "tasks": TablePolicy(day_column="completed_at", only_when={"status": "done"}, core_days=0),
}
STEPS = [f"core_main.{p}" for p in ("opened", "copied", "helper_committed", "main_committed",
                                     "core_deleting", "delete_sent", "deleted", "closed",
                                     "space")]
LAST = dt.date(2024, 3, 31)
DAYS = 70


def run_all(cfg, core, main, as_of) -> None:
    for table in TABLES:
        handles.run_table(cfg, core, main, table, as_of)


def crash_once(cfg, core, main, as_of: dt.date, step: str | None, delay: float) -> str:
    """Fork a mover; kill -9 it at `step` (or after `delay` s). Returns what happened."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the mover
        code = 0
        try:
            os.close(read_fd)
            os.dup2(write_fd, 1)
            sys.stdout = os.fdopen(1, "w", buffering=1)
            if step:
                os.environ[CRASH_ENV] = step
            run_all(cfg, core, main, as_of)
        except BaseException:
            code = 3
        os._exit(code)
    os.close(write_fd)
    outcome = "finished"
    deadline = time.monotonic() + (delay if step is None else 30)
    while True:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([read_fd], [], [], max(0.0, left))
        if ready:
            data = os.read(read_fd, 4096)
            if b"persys-crash-point" in data:
                outcome = f"killed at {step}"
                break
            if not data:  # the mover ended before reaching the point
                break
        elif left <= 0:
            outcome = f"killed after {delay:.3f}s"
            break
    os.kill(pid, signal.SIGKILL) if outcome.startswith("killed") else None
    os.waitpid(pid, 0)
    os.close(read_fd)
    return outcome


def crash_trials(cfg, tier_pair, trials: int, seed: int) -> list[str]:
    core, main = tier_pair
    cfg = cfg.model_copy(update={"tables": {**cfg.tables, **TABLES}})
    setup_lib.load_sample_data(cfg, days=DAYS, seed=seed, as_of=LAST)
    before = {t: rows_text(core, t) for t in TABLES}
    rng = random.Random(seed)
    first = LAST - dt.timedelta(days=DAYS - 1)
    seen = []
    for k in range(trials):
        as_of = first + dt.timedelta(days=2 + (k * (DAYS - 4)) // trials)
        step = rng.choice(STEPS + [None, None])
        seen.append(crash_once(cfg, core, main, as_of, step, rng.uniform(0.0, 0.4)))
        run_all(cfg, core, main, as_of)  # running again repairs whatever the crash left
        for table in TABLES:
            assert_conserved(core, main, table, before[table], ["id"])
            with core.connect() as conn:
                left = lifecycle.planner.plan_table(conn, table, TABLES[table],
                                                    cfg.timezone, as_of)
            assert not left.days, (table, seen[-1])
    with main.connect() as conn:
        assert not [e for e in ledger.entries(conn, limit=10_000)
                    if e.outcome == "started"]
    return seen


@pytest.fixture
def tier_pair(cfg, monkeypatch):
    """Every month-partitioned range of two days or more is copied in two streams (the
    forked movers inherit it), so kills land between their two commits too."""
    monkeypatch.setattr(two_streams, "TWO_STREAMS_FROM", 0)
    setup_lib.setup_tiers(cfg)
    return resolve_tier(cfg, "core"), resolve_tier(cfg, "main")


def test_kill_minus_9_at_random_points_loses_and_doubles_nothing(cfg, tier_pair):
    seen = crash_trials(cfg, tier_pair, trials=20, seed=11)
    assert sum(s.startswith("killed") for s in seen) >= 15, seen


@pytest.mark.slow
def test_kill_minus_9_many_more_trials(cfg, tier_pair):
    seen = crash_trials(cfg, tier_pair, trials=100, seed=12)
    assert sum(s.startswith("killed") for s in seen) >= 50, seen

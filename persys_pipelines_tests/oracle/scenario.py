"""A scenario: simulated days pass while the app writes; each tick one route runs and is
killed at one of its crash points, after a random delay, or left to finish; at the end one
clean pass (repair, lifecycle) and the checker."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier

from . import checker, routes
from .app import run_app
from .world import START, World

# how often each route is picked per tick (the lifecycle most, as the nightly run does)
WEIGHTS = {"lifecycle": 8, "archive": 2, "restore": 2, "purge": 2, "backup": 1,
           "backup_restore": 1, "rekey": 1, "adopt": 1, "rewrite": 3, "repair": 1}


@dataclass
class Report:
    ticks: int = 0
    kills: int = 0
    crash_points: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    app: dict = field(default_factory=dict)
    found: dict = field(default_factory=dict)

    def summary(self) -> str:
        app = {k: v for k, v in self.app.items() if k != "last"}
        return (f"ticks {self.ticks}, kills {self.kills} ({sum(self.crash_points.values())} at "
                f"crash points: {dict(self.crash_points)}), outcomes {dict(self.outcomes)}, "
                f"app {app}, rows found {self.found}")


def run(world: World, tmp: Path, *, ticks: int, seed: int, kill_share: float = 0.6,
        days_per_tick: float = 1.5) -> Report:
    rng = random.Random(seed)
    report = Report()
    as_of_file, stop_file, app_out = tmp / "as_of", tmp / "stop", tmp / "app.json"
    as_of = START
    _set(as_of_file, as_of)
    ctx = multiprocessing.get_context("fork")
    app = ctx.Process(target=run_app, args=(world.dsns["core"], str(as_of_file),
                                            str(stop_file), seed, str(app_out)))
    app.start()
    purged: dt.date | None = None
    written: dict[str, str] = {}
    cycle = [p for name in routes.ROUTES for p in routes.points_of(name)]
    rng.shuffle(cycle)
    try:
        for tick in range(ticks):
            as_of = START + dt.timedelta(days=int(tick * days_per_tick))
            _set(as_of_file, as_of)
            if tick == ticks // 3:
                world.add_key()  # the README's rotation: a new key, then `archive rekey`
            name = rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
            crash_at = kill_after = None
            if rng.random() < kill_share:
                reachable = routes.points_of(name)
                if reachable and rng.random() < 0.6:
                    crash_at = next((p for p in cycle if p in reachable), rng.choice(reachable))
                    if crash_at in cycle:  # tried once: a point this world rarely reaches
                        cycle.remove(crash_at)  # must not take every later kill of its route
                else:
                    kill_after = rng.uniform(0.02, 1.2)
            if name == "purge":
                purged = as_of
            out = routes.run_forked(str(world.path), name, as_of, seed * 1000 + tick,
                                    crash_at=crash_at, kill_after=kill_after)
            report.ticks += 1
            report.outcomes[f"{name}: {out.how.split(' ')[0]}"] += 1
            if out.how.startswith("crashed at"):
                point = out.how.split()[-1]
                report.crash_points[point] += 1
                report.kills += 1
            elif out.how.startswith("killed"):
                report.kills += 1
            elif out.how != "finished":
                raise AssertionError(f"tick {tick}: {name} as of {as_of} {out.how}:\n"
                                     f"{out.output[-3000:]}")
            elif name == "rewrite":
                written.update(_rewritten(out.output))
    finally:
        stop_file.write_text("stop")
        app.join(timeout=60)
    report.app = json.loads(app_out.read_text())
    cfg = world.cfg
    handles.repair_all(cfg, apply=True)  # one clean pass, nobody killing it
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    for table in ("journal_entries", "notes", "daily_summaries"):
        handles.run_table(cfg, core, main, table, as_of)
    handles.archive_due(cfg, as_of)
    verify = handles.verify_archive(cfg)
    assert verify.ok and not verify.orphans and not verify.pending, verify
    report.found = checker.check(cfg, report.app["last"], purged, written)
    assert not report.app["errors"], report.app["errors"][:5]
    return report


def _rewritten(output: str) -> dict[str, str]:
    """Days a finished rewrite wrote (it prints them once its transactions committed)."""
    return {ln.split()[1]: ln.split()[2] for ln in output.splitlines()
            if ln.startswith("rewritten ")}


def _set(path: Path, day: dt.date) -> None:
    """The app reads the simulated day while it changes: replace the file whole."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(day.isoformat())
    tmp.replace(path)

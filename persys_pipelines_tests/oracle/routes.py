"""Every route of the engine as the scheduler or a person starts it, each runnable in a forked
child that the oracle may kill: at a declared crash point (PERSYS_CRASH_AT) or after a delay.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from persys_pipelines import handles
from persys_pipelines.handles import archive_stores, resolve_tier
from persys_pipelines.lib.backup import snapshot
from persys_pipelines.lib.config import Config
from persys_pipelines.lib.moves import adopt
from persys_pipelines.lib.moves import registry as engine
from persys_pipelines.lib.moves.engine import CRASH_ENV

from .world import POLICIES

# route name → the engine routes whose crash points it can reach
REACHES = {
    "lifecycle": ("core_main", "partition", "main_archive"),
    "archive": ("main_archive",),
    "restore": ("archive_main",),
    "purge": ("purge",),
    "backup_restore": ("backup_restore",),
    "rekey": ("rekey",),
    "adopt": ("adopt",),
    "adopt_memos": ("adopt",),
    "rewrite": ("rewrite", "archive_main", "main_archive"),
    "repair": ("core_main", "main_archive", "purge"),
    "import_health": ("import", "main_archive"),
    "backup": (),
}


def lifecycle(cfg: Config, as_of: dt.date, rng: random.Random) -> None:
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    for table in ("journal_entries", "notes", "daily_summaries"):
        handles.run_table(cfg, core, main, table, as_of)
    handles.archive_due(cfg, as_of)


def archive(cfg: Config, as_of: dt.date, rng: random.Random) -> None:
    handles.archive_due(cfg, as_of)


def restore(cfg: Config, as_of: dt.date, rng: random.Random) -> None:
    table = rng.choice(["journal_entries", "notes"])
    oldest = as_of - dt.timedelta(days=POLICIES[table]["delete_days"] - 1)
    last = as_of - dt.timedelta(days=POLICIES[table]["main_days"] + 1)
    if last <= oldest:
        return
    first = oldest + dt.timedelta(days=rng.randrange((last - oldest).days))
    handles.restore(cfg, table, first, min(last, first + dt.timedelta(days=rng.randrange(6))),
                    pin_days=rng.choice([0, 0, 3]))


def purge(cfg: Config, as_of: dt.date, rng: random.Random) -> None:
    handles.purge_due(cfg, as_of)


def backup(cfg: Config, as_of: dt.date, rng: random.Random) -> None:
    handles.backup(cfg, "main")


def backup_restore(cfg: Config, as_of: dt.date, rng: random.Random) -> None:
    """A merge of main's newest backup as of the simulated day: never deletes, never doubles,
    never resurrects a row that moved on, that the app deleted, or that is past delete_days."""
    found = snapshot.list_backups(handles.backup_target(cfg).store, "main")
    held = [t for t in ("journal_entries", "notes") if found and t in found[-1].manifest["tables"]]
    if held:  # a backup taken before a table reached main does not hold it
        handles.restore_backup(cfg, found[-1], held, today=as_of)


def rekey(cfg: Config, as_of: dt.date, rng: random.Random) -> None:
    handles.rekey_all(cfg)


def adopt_notes(cfg: Config, as_of: dt.date, rng: random.Random) -> None:
    core = resolve_tier(cfg, "core")
    with core.connect() as conn:
        if conn.execute("select relkind = 'p' from pg_class where oid = 'notes'::regclass"
                        ).fetchone()[0]:
            return
    adopt.adopt_partition(handles.engine(cfg), core, handles.spec(cfg, "notes"), as_of,
                          key_change_ok=True)  # the key becomes (id, day): the app upserts no id


def adopt_memos(cfg: Config, as_of: dt.date, rng: random.Random) -> None:
    """A plain table the crash-point test makes for each adopt point (not in persys.yaml)."""
    from persys_pipelines.lib.config import TablePolicy
    from persys_pipelines.lib.pg.tables import TableSpec

    spec = TableSpec("memos", TablePolicy(day_column="day", core_days=5), cfg.timezone)
    from persys_pipelines.lib.errors import UsageError

    try:  # the key becomes (id, day): the app upserts no id
        adopt.adopt_partition(handles.engine(cfg), resolve_tier(cfg, "core"), spec, as_of,
                              key_change_ok=True)
    except UsageError as exc:  # killed after its commit: the run again closes its ledger entry
        if "already partitioned" not in str(exc):
            raise


def rewrite(cfg: Config, as_of: dt.date, rng: random.Random) -> None:
    """Summaries of a few days recomputed (their text marks which run wrote them)."""
    from persys_pipelines.lib.daily.summary import store_days

    first = as_of - dt.timedelta(days=rng.randrange(5, 40))
    last = first + dt.timedelta(days=rng.randrange(4))
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    rows = [(d, f"{as_of}:{rng.random():.6f}") for d in days]
    store_days(handles.daily_handles(cfg), "daily_summaries", ("day", "summary_text"), first, last,
               rows)
    for day, text in rows:
        print(f"rewritten {day} {text}", flush=True)


def export_for(cfg: Config, as_of: dt.date) -> Path:
    """A small Apple Health export (lib/imports/synthetic.py) of the 60 days before `as_of`,
    the same file for the same day (a killed import is finished by importing it again)."""
    from persys_pipelines.lib.imports.synthetic import write_export

    path = cfg.home / "exports" / f"export {as_of}.xml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".part")
        write_export(part, 1500, last_day=as_of - dt.timedelta(days=1), days=60,
                     seed=as_of.toordinal())
        part.rename(path)
    return path


def import_health(cfg: Config, as_of: dt.date, rng: random.Random) -> None:
    """`persys import apple-health` as of `as_of`: its days reach core, main, the archive and
    retention (the crash-point world has a health_metrics policy, world.IMPORT_POLICIES)."""
    handles.import_file(cfg, "apple-health", export_for(cfg, as_of), today=as_of)


def repair(cfg: Config, as_of: dt.date, rng: random.Random) -> None:
    handles.repair_all(cfg, apply=True)


ROUTES: dict[str, Callable[[Config, dt.date, random.Random], None]] = {
    "lifecycle": lifecycle, "archive": archive, "restore": restore, "purge": purge,
    "backup": backup, "backup_restore": backup_restore, "rekey": rekey, "adopt": adopt_notes,
    "rewrite": rewrite, "repair": repair, "adopt_memos": adopt_memos,
}
# run by the crash-point test only (its world has health_metrics; the random oracle's has not)
ONLY_AT_POINTS = {"import_health": import_health}


def points_of(name: str) -> list[str]:
    return [f"{r}.{p}" for r in REACHES[name] for p in engine.ROUTES[r].points]


@dataclass
class Outcome:
    route: str
    how: str  # finished | crashed at <point> | killed after <s> | failed (<code>)
    output: str = ""


def run_forked(cfg_path: str, name: str, as_of: dt.date, seed: int, *,
               crash_at: str | None = None, kill_after: float | None = None,
               timeout: float = 120.0) -> Outcome:
    """Run route `name` in a forked child; kill it at `crash_at` or after `kill_after` s."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the route
        code = 0
        try:
            os.close(read_fd)
            os.dup2(write_fd, 1)
            os.dup2(write_fd, 2)
            sys.stdout = os.fdopen(1, "w", buffering=1)
            sys.stderr = sys.stdout
            if crash_at:
                os.environ[CRASH_ENV] = crash_at
            from persys_pipelines.lib.config import load_config
            from persys_pipelines.lib.moves import two_streams

            two_streams.TWO_STREAMS_FROM = 0  # every core→main range of 2+ days: two streams

            {**ROUTES, **ONLY_AT_POINTS}[name](load_config(cfg_path), as_of,
                                                random.Random(seed))
        except BaseException as exc:  # noqa: BLE001 - the parent reads it
            print(f"route-error {type(exc).__name__}: {exc}", flush=True)
            code = 3
        os._exit(code)
    os.close(write_fd)
    deadline = time.monotonic() + (kill_after if kill_after is not None else timeout)
    out = b""
    how = None
    while True:
        wait = deadline - time.monotonic()
        if wait <= 0:
            os.kill(pid, signal.SIGKILL)
            how = f"killed after {kill_after:.2f} s" if kill_after is not None else "timed out"
            break
        ready, _, _ = select.select([read_fd], [], [], min(wait, 0.2))
        if ready:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(read_fd)
    text = out.decode(errors="replace")
    if how is None:
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            point = next((ln.split()[1] for ln in text.splitlines()
                          if ln.startswith("persys-crash-point ")), "?")
            how = f"crashed at {point}"
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            how = "finished"
        else:
            how = f"failed ({status})"
    return Outcome(name, how, text)


def stores_of(cfg: Config):
    return archive_stores(cfg, check=False)

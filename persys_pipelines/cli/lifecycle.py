"""`persys lifecycle run`: plan from the data and run the `main/<table>` assets through Dagster,
then the `archive/<table>` assets and the purge job (defs/archive/run.py).

Recorded in the Dagster instance of DAGSTER_HOME when set (as `persys up` sets it), else in an
ephemeral one. `--dry-run` only prints the plan.
"""

from __future__ import annotations

import argparse
import datetime as dt

from .. import handles
from ..handles import resolve_tier
from ..lib.config import Config, find_config_path
from ..lib.errors import UsageError
from ..lib.monitoring.units import human_bytes, plural
from ..lib.moves.core_main import SAME_TRANSACTION_NOTE
from ..lib.tiering import lifecycle as lifecycle_lib
from .common import add_config_arg, add_yes_arg, iso_date, load, refuse_future_as_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lifecycle", help="move due data between tiers (core→main→archive, purge)")
    lsub = p.add_subparsers(dest="lifecycle_command", required=True, metavar="ACTION")
    run = lsub.add_parser("run", help="plan and run due moves (core→main, main→archive, purge)")
    add_config_arg(run)
    run.add_argument("--as-of", type=iso_date, help="act as if today were this day")
    run.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    add_yes_arg(run)
    run.add_argument("--table", action="append",
                     help="only this table (repeatable; default: every table in persys.yaml)")
    run.set_defaults(handler=run_command)
    fix = lsub.add_parser("repair", help="report (and with --apply, fix) what a crash or the "
                          "app left between core and main; core's version wins")
    add_config_arg(fix)
    fix.add_argument("--table", action="append", help="only this table (repeatable)")
    fix.add_argument("--apply", action="store_true", help="fix it (default: report only)")
    fix.set_defaults(handler=repair_command)


def repair_command(args: argparse.Namespace) -> int:
    cfg = load(args)
    tables = args.table or list(cfg.tables)
    unknown = [t for t in tables if t not in cfg.tables]
    if unknown:
        raise UsageError(f"--table {unknown[0]}: not in persys.yaml tables "
                        f"({', '.join(cfg.tables)})")
    found = handles.repair_all(cfg, tables, apply=args.apply)
    todo = 0
    for f in found:
        todo += f.unsettled + f.in_both
        todo += len(f.archive)
        state = ("ok" if not (f.unsettled or f.in_both or f.archive)
                 else ("fixed" if f.fixed else "FOUND"))
        print(f"{state:<6}{f.table}: {plural(f.unsettled, 'unsettled move')}, "
              f"{plural(f.in_both, 'key')} in both core and main")
        for line in f.archive:
            print(f"        archive {line}")
        for key, core_row, main_row in f.examples:
            print(f"        key {key}\n          core: {core_row}\n          main: {main_row}")
    if todo and not args.apply:
        print("dry run: nothing changed. `persys lifecycle repair --apply` settles the moves "
              "and removes main's copies of keys core still holds (core's version wins)")
        return 1
    return 0


def run_command(args: argparse.Namespace) -> int:
    cfg = load(args)
    refuse_future_as_of(cfg, args, "lifecycle run", "delete the archive files past delete_days "
                        "by then (and move every day due by then out of core and main)")
    as_of = args.as_of or cfg.today()
    tables = args.table or list(cfg.tables)
    unknown = [t for t in tables if t not in cfg.tables]
    if unknown:
        raise UsageError(f"--table {unknown[0]}: not in persys.yaml tables "
                        f"({', '.join(cfg.tables)})")
    core = resolve_tier(cfg, "core")
    plans = lifecycle_lib.plan(core, handles.specs(cfg, tables), as_of)
    print(f"lifecycle core→main as of {as_of}" + (" (dry run: nothing changes)"
                                                 if args.dry_run else ""))
    if core.transaction_pooled:
        print(f"  note: {SAME_TRANSACTION_NOTE}")
    print_plan(plans)
    due = {t: p for t, p in plans.items() if p.days}
    if not args.dry_run and due:
        print_results(execute(cfg, args, as_of, due))
    archive_steps(cfg, config_path(args), as_of, tables, dry_run=args.dry_run,
                  incoming={t: p.days for t, p in due.items()} if args.dry_run else None)
    if not args.dry_run:
        turn_on_schedules(cfg)
    return 0


def turn_on_schedules(cfg: Config) -> None:
    """The first real run is the person's go-ahead: the schedules and sensors that move and
    delete rows start (cli/schedules.py)."""
    from . import schedules

    schedules.go_ahead_given(cfg, reason="`persys lifecycle run` ran")


def config_path(args: argparse.Namespace) -> str | None:
    return args.config or (str(p.resolve()) if (p := find_config_path()) else None)


def archive_steps(cfg: Config, path: str | None, as_of: dt.date, tables: list[str], *,
                  dry_run: bool = False, incoming: dict[str, dict[dt.date, int]] | None = None
                  ) -> dict[str, dict]:
    """main→archive (months older than main_days) and purge (files past delete_days), through
    the Dagster jobs; returns what was archived per table. A dry run counts the days core→main
    would bring (`incoming`) as the run will find them in main."""
    from ..defs.archive import run as archive_run
    plan = archive_run.due(cfg, as_of, tables, incoming)
    print(f"\nlifecycle main→archive as of {as_of}")
    due = {t: months for t, months in plan.items() if months}
    if due:
        print(f"  {'table':<20}{'months':>7}{'rows':>10}  range")
    else:
        print("  nothing is due (no month in main is older than its main_days)")
    for t, months in due.items():
        span = f"{min(months):%Y-%m}..{max(months):%Y-%m}"
        print(f"  {t:<20}{len(months):>7}{sum(months.values()):>10,}  {span}")
    done: dict[str, dict] = {}
    if not dry_run and due:
        done = archive_run.run_archive(cfg, path, as_of, plan)
        if done:
            print(f"  {'table':<20}{'months':>7}{'files':>7}{'rows':>10}{'size':>12}  store")
        for t, m in sorted(done.items()):
            print(f"  {t:<20}{m['months']:>7}{len(m['files']):>7}{m['rows']:>10,}"
                  f"{human_bytes(m['bytes']):>12}  {m['store']}" + (" (failover)" if m["failover"]
                                                           else ""))
    print(f"\nlifecycle purge as of {as_of} (archive files past delete_days)")
    expired = handles.purge_due(cfg, as_of, dry_run=True)
    if not expired:
        print("  nothing is past delete_days")
        return done
    if dry_run:
        for i in expired:
            print(f"  would delete {i.key} ({i.table}, up to {i.max_day}, "
                  f"{plural(i.rows, 'row')})")
        return done
    purged = archive_run.run_purge(cfg, path, as_of)
    print(f"  {'table':<20}{'files':>7}{'rows':>10}{'size':>12}")
    for t, m in sorted(purged.items()):
        print(f"  {t:<20}{m['files']:>7}{m['rows']:>10,}{human_bytes(m['bytes']):>12}")
    return done


def print_plan(plans: dict) -> None:
    """The due tables only; one line when nothing is due (not a row of zeros per table)."""
    due = {t: p for t, p in plans.items() if p.days}
    if not due:
        cutoffs = sorted({p.cutoff for p in plans.values()})
        before = f" before {cutoffs[0]}" if len(cutoffs) == 1 else ""
        print(f"  nothing is due (no row in core is older than its table's core_days{before})")
        return
    print(f"  {'table':<20}{'due days':>9}{'rows':>10}  range (cutoff)")
    for t, p in due.items():
        print(f"  {t:<20}{len(p.days):>9}{p.rows:>10,}  {p.first_day}..{p.last_day} "
              f"(< {p.cutoff})")


def execute(cfg: Config, args: argparse.Namespace, as_of: dt.date, due: dict) -> dict[str, dict]:
    """One ranged Dagster run of the due tables' assets; returns materialization metadata."""
    import dagster as dg
    from tqdm import tqdm

    from ..defs import lifecycle as lifecycle_defs
    from ..defs.lifecycle.assets import main_key
    from ..defs.lifecycle.schedules import JOB_NAME, run_request_tags
    from ..defs.resources import resources
    from ..defs.runner import materializations, run_job

    total = sum(p.rows for p in due.values())
    # disable=None: a bar on a terminal, nothing in a log file
    with tqdm(total=total, unit="rows", unit_scale=True, desc="moving", leave=False,
              disable=None) as bar:
        defs = dg.Definitions.merge(
            lifecycle_defs.definitions(cfg),
            dg.Definitions(resources=resources(config_path(args), progress=bar.update)))
        result = run_job(defs, JOB_NAME, tags=run_request_tags(cfg, due, as_of),
                         selection=[main_key(t) for t in due])
    return materializations(result)


def print_results(results: dict[str, dict]) -> None:
    print(f"  {'table':<20}{'days':>6}{'rows':>10}{'moved':>12}{'returned':>12}")
    for t, m in sorted(results.items()):
        print(f"  {t:<20}{m['days']:>6}{m['rows']:>10,}{human_bytes(m['bytes_moved']):>12}"
              f"{human_bytes(m['bytes_returned']):>12}")
        if m.get("space_note"):
            print(f"  {'':<20}{m['space_note']}")



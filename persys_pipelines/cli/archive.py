"""`persys archive run|verify|drill|restore|pin|unpin|rekey|purge`: the archive tier by hand."""

from __future__ import annotations

import argparse

from .. import handles
from ..handles import archive_stores, keyring, resolve_tier
from ..lib.archive import drill as drill_lib
from ..lib.archive import maintenance
from ..lib.archive import pins as pins_lib
from ..lib.errors import UsageError
from ..lib.monitoring.units import human_bytes, plural
from .backup import verify_backups
from .common import add_config_arg, add_yes_arg, iso_date, load, refuse_future_as_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("archive", help="archive tier: run, verify, restore, pin, unpin, rekey, "
                       "purge")
    cmds = p.add_subparsers(dest="archive_command", required=True, metavar="ACTION")

    run = cmds.add_parser("run", help="archive every month older than main_days (main→archive)")
    add_config_arg(run)
    run.add_argument("--as-of", type=iso_date, help="run as if today were this date")
    run.add_argument("--dry-run", action="store_true", help="list the due months only")
    run.set_defaults(handler=cmd_run)

    verify = cmds.add_parser("verify", help="check sha256 and rows of every file; exit 1 if bad")
    add_config_arg(verify)
    verify.add_argument("--sample", type=float, default=100.0, metavar="PCT",
                        help="check this share of the files (default 100)")
    verify.set_defaults(handler=cmd_verify)

    drill = cmds.add_parser("drill", help="restore archived months into a scratch schema and "
                            "compare with the manifest and ledger; exit 1 on a mismatch")
    add_config_arg(drill)
    which = drill.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="drill every archived file")
    which.add_argument("--months", type=int, default=1, metavar="N",
                       help="drill N files picked at random (default 1)")
    drill.add_argument("--seed", type=int, help="seed of the random pick (repeat a drill)")
    drill.set_defaults(handler=cmd_drill)

    restore = cmds.add_parser("restore", help="bring archived days back into main")
    add_config_arg(restore)
    restore.add_argument("table")
    restore.add_argument("--from", dest="first", type=iso_date, required=True)
    restore.add_argument("--to", dest="last", type=iso_date, required=True)
    restore.add_argument(
        "--pin-days", type=int, default=pins_lib.DEFAULT_PIN_DAYS, metavar="N",
        help=f"keep the restored days in main for N days (default {pins_lib.DEFAULT_PIN_DAYS}; "
             "0: do not pin, the next archive run takes them back); "
             "`persys archive unpin` releases them earlier")
    restore.set_defaults(handler=cmd_restore)

    keep = cmds.add_parser("pin", help="keep days where they are: in main not archived, in "
                           "the archive not purged past delete_days")
    add_config_arg(keep)
    keep.add_argument("table")
    keep.add_argument("--from", dest="first", type=iso_date, required=True)
    keep.add_argument("--to", dest="last", type=iso_date, required=True)
    keep.add_argument("--days", type=int, default=pins_lib.KEEP_DAYS, metavar="N",
                      help=f"for N days from today (default {pins_lib.KEEP_DAYS}); "
                           "`persys archive unpin` releases them earlier")
    keep.set_defaults(handler=cmd_pin)

    unpin = cmds.add_parser("unpin", help="let pinned days be archived and purged again")
    add_config_arg(unpin)
    unpin.add_argument("table")
    unpin.add_argument("--from", dest="first", type=iso_date,
                       help="only these days (with --to); default every pin of the table")
    unpin.add_argument("--to", dest="last", type=iso_date)
    unpin.set_defaults(handler=cmd_unpin)

    rekey = cmds.add_parser("rekey", help="re-encrypt every file with the newest key")
    add_config_arg(rekey)
    rekey.set_defaults(handler=cmd_rekey)

    purge = cmds.add_parser("purge", help="delete files older than delete_days")
    add_config_arg(purge)
    purge.add_argument("--as-of", type=iso_date)
    purge.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    add_yes_arg(purge)
    purge.set_defaults(handler=cmd_purge)


def cmd_run(args: argparse.Namespace) -> int:
    """main→archive through the `archive/<table>` assets (one ranged Dagster run, recorded in
    the instance `persys up` shows), as `persys lifecycle run` and the sensor do."""
    from ..defs.archive import run as archive_run
    from .lifecycle import config_path

    cfg = load(args)
    as_of = args.as_of or cfg.today()
    plan = archive_run.due(cfg, as_of, list(cfg.tables))
    due = {t: months for t, months in plan.items() if months}
    if not due:
        print("archive: nothing is due")
        return 0
    if args.dry_run:
        for table, months in due.items():
            print(f"{table}: " + ", ".join(f"{m:%Y-%m}" for m in months)
                  + f" ({plural(sum(months.values()), 'row')})")
        return 0
    refused = 0
    for t, m in sorted(archive_run.run_archive(cfg, config_path(args), as_of, plan).items()):
        print(f"archived {t}: {plural(m['months'], 'month')}, {plural(len(m['files']), 'file')}, "
              f"{plural(m['rows'], 'row')}, {human_bytes(m['bytes'])} → {m['store']}"
              + (" (failover)" if m["failover"] else ""))
        for month, why in (m.get("refused") or {}).items():
            print(f"REFUSED  {t} {month}: {why}")
            refused += 1
    return 1 if refused else 0


def cmd_verify(args: argparse.Namespace) -> int:
    cfg = load(args)
    report = maintenance.verify(archive_stores(cfg, check=False), keyring(cfg),
                                list(cfg.tables), args.sample)
    for url, why in report.unreachable:
        print(f"DOWN     {url}: {why}")
    for uri, why in report.bad:
        print(f"BAD      {uri}: {why}")
    for uri in report.missing:
        print(f"MISSING  {uri}: listed in the manifest, not in the store")
    for uri in report.orphans:
        print(f"ORPHAN   {uri}: in no manifest (an interrupted run, or a lost manifest; "
              "`persys lifecycle repair --apply` lists it again or, when main is proven to "
              "hold its rows, deletes it)")
    for why in report.unreadable:
        print(f"MANIFEST {why}")
    for uri in report.pending:
        print(f"PENDING  {uri}: an interrupted run; the next archive run settles it")
    print("backups (each tier's latest; `persys backup verify --tier T --id ID` for another):")
    bad_backups = verify_backups(cfg)
    state = "ok" if report.ok and not bad_backups else "PROBLEMS"
    print(f"verify: {plural(report.checked, 'file')} checked, {len(report.bad)} bad, "
          f"{len(report.missing)} missing, {plural(len(report.orphans), 'orphan')}; "
          f"backups: {bad_backups} bad tables: {state}")
    return 0 if state == "ok" else 1


def cmd_drill(args: argparse.Namespace) -> int:
    if args.months < 1:
        raise UsageError("--months must be 1 or more")
    cfg = load(args)
    results = drill_lib.drill(resolve_tier(cfg, "main"), archive_stores(cfg, check=False),
                              keyring(cfg), list(cfg.tables),
                              months=None if args.all else args.months, seed=args.seed)
    for r in results:
        print(r.line())
    bad = sum(not r.ok for r in results)
    print(f"drill: {plural(len(results), 'file')} restored into a scratch schema, {bad} bad"
          if results else "drill: the archive holds no files yet")
    return 1 if bad else 0


def cmd_restore(args: argparse.Namespace) -> int:
    r = handles.restore(load(args), args.table, args.first, args.last, pin_days=args.pin_days)
    print(f"restored {plural(r.rows, 'row')} of {r.table} {r.first_day}..{r.last_day} into "
          f"main from {plural(len(r.files), 'file')}" + (f" ({r.already_in_main} already there)"
                                          if r.already_in_main else ""))
    for uri in r.remainders:
        print(f"  the other days of the file stay archived in {uri}")
    if r.pinned_until:
        print(f"  pinned in main until {r.pinned_until} (archived again from then on; "
              f"`persys archive unpin {r.table}` releases them now)")
    return 0


def cmd_pin(args: argparse.Namespace) -> int:
    cfg = load(args)
    if args.table not in cfg.tables:
        raise UsageError(f"archive pin {args.table}: not in persys.yaml tables "
                         f"({', '.join(cfg.tables)})")
    until = pins_lib.keep_until(args.days, cfg.today())
    pins_lib.keep(resolve_tier(cfg, "main"), args.table, args.first, args.last, until)
    print(f"pinned {args.table} {args.first}..{args.last} until {until}: the archive leaves "
          "these days in main and the purge leaves every archive file holding one of them; "
          f"`persys archive unpin {args.table} --from {args.first} --to {args.last}` releases "
          "them")
    return 0


def cmd_unpin(args: argparse.Namespace) -> int:
    cfg = load(args)
    changed = pins_lib.unpin(resolve_tier(cfg, "main"), args.table, args.first, args.last)
    for p in changed:
        lo = max(p.first_day, args.first or p.first_day)
        hi = min(p.last_day, args.last or p.last_day)
        print(f"unpinned {p.table} {lo}..{hi} (was pinned until {p.until}); archived again "
              "by the next archive run once due")
    print(f"unpin: {len(changed)} pins changed" if changed else
          f"unpin: {args.table} has no pin there")
    return 0


def cmd_rekey(args: argparse.Namespace) -> int:
    done = handles.rekey_all(load(args))
    for uri in done:
        print(f"re-encrypted {uri}")
    print(f"rekey: {plural(len(done), 'file')} re-encrypted (archive and backups); older keys "
          "may now be dropped from tiers.archive.encryption_key once `persys archive verify` "
          "passes")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    cfg = load(args)
    refuse_future_as_of(cfg, args, "archive purge", "delete the archive files past "
                        "delete_days by then")
    items = handles.purge_due(cfg, args.as_of, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for i in items:
        print(f"{verb} {i.key} ({i.table}, up to {i.max_day}, {plural(i.rows, 'row')})")
    print(f"purge: {verb} {plural(len(items), 'file')}")
    return 0

"""`persys backup run|list|verify|restore`: logical backups of core and main (lib/backup)."""

from __future__ import annotations

import argparse
import datetime as dt

from .. import handles
from ..lib.archive.stores import Store
from ..lib.backup import snapshot
from ..lib.backup import verify as verify_lib
from ..lib.config import Config
from ..lib.errors import UsageError
from ..lib.monitoring.units import human_bytes, plural
from ..lib.pg.tiers import PgTier
from .common import add_config_arg, load


def _tier_arg(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--tier", choices=snapshot.TIERS, help=help_text)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backup", help="encrypted backups of core and main: run, list, verify, "
                                      "restore")
    cmds = p.add_subparsers(dest="backup_command", required=True, metavar="ACTION")

    run = cmds.add_parser("run", help="back up the tier's tables into the archive store")
    add_config_arg(run)
    _tier_arg(run, "only this tier (default both)")
    run.set_defaults(handler=cmd_run)

    ls = cmds.add_parser("list", help="finished backups: id, tier, tables, rows, bytes, age")
    add_config_arg(ls)
    _tier_arg(ls, "only this tier")
    ls.set_defaults(handler=cmd_list)

    verify = cmds.add_parser("verify", help="download, decrypt, check sha256 and rows; exit 1 "
                                            "if bad")
    add_config_arg(verify)
    _tier_arg(verify, "only this tier (default both)")
    verify.add_argument("--id", dest="backup_id", help="this backup (default the newest)")
    verify.set_defaults(handler=cmd_verify)

    restore = cmds.add_parser("restore", help="give a backup's rows back, table by table")
    add_config_arg(restore)
    which = restore.add_mutually_exclusive_group(required=True)
    which.add_argument("--latest", action="store_true", help="the newest backup of the tier")
    which.add_argument("--id", dest="backup_id", help="this backup")
    _tier_arg(restore, "the backup's tier (default main)")
    restore.add_argument("--table", action="append", dest="tables", metavar="TABLE",
                         help="only this table (repeatable; default every table of the backup)")
    restore.add_argument("--into", metavar="DSN",
                         help="restore into this database instead of the tier")
    restore.add_argument("--replace", action="store_true",
                         help="make the tables equal to the backup: rows written since it are "
                              "DELETED (default: merge, insert only what is missing "
                              "everywhere)")
    restore.add_argument("--yes", action="store_true",
                         help="go ahead with --replace")
    restore.set_defaults(handler=cmd_restore)


def cmd_run(args: argparse.Namespace) -> int:
    """Each tier's backup as a run of the `backup_tier` job (the one the schedules start), so
    it is in the UI like theirs."""
    import dagster as dg

    from ..defs import backup as backup_defs
    from ..defs.resources import resources
    from ..defs.runner import run_job
    from .lifecycle import config_path

    load(args)  # a broken persys.yaml is one message, before any run
    defs = dg.Definitions.merge(dg.Definitions(jobs=[backup_defs.backup_job]),
                                dg.Definitions(resources=resources(config_path(args))))
    for tier in [args.tier] if args.tier else snapshot.TIERS:
        result = run_job(defs, backup_defs.JOB_NAME, tags={},
                         run_config={"ops": {"take_backup": {"config": {"tier": tier}}}})
        meta = next(e.event_specific_data.metadata for e in result.all_events
                    if e.is_successful_output)
        print(f"{tier}: backup {meta['id'].value}: {plural(meta['tables'].value, 'table')}, "
              f"{plural(meta['rows'].value, 'row')}, {human_bytes(meta['bytes'].value)}")
    return 0


def _store(cfg: Config) -> Store:
    """Where backups are listed and read from (tiers.archive.backup_url, else the archive)."""
    return handles.backup_store(cfg)  # the store alone: no keyring is needed to list


def _age(taken_at: dt.datetime) -> str:
    hours = (dt.datetime.now(dt.UTC) - taken_at).total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def cmd_list(args: argparse.Namespace) -> int:
    backups = snapshot.list_backups(_store(load(args)), args.tier)
    if not backups:
        print("no backups yet (`persys backup run`)")
        return 0
    print(f"{'id':<24}{'tier':<6}{'tables':>7}{'rows':>12}{'size':>12}{'age':>10}")
    for b in backups:
        print(f"{b.id:<24}{b.tier:<6}{len(b.manifest['tables']):>7}{b.rows:>12,}"
              f"{human_bytes(b.bytes):>12}{_age(b.taken_at):>10}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    cfg = load(args)
    if args.backup_id and not args.tier:
        raise UsageError("--id needs --tier (ids are per tier)")
    return 1 if verify_backups(cfg, args.tier, args.backup_id) else 0


def verify_backups(cfg: Config, tier: str | None = None, backup_id: str | None = None) -> int:
    """Decrypt and check the backup `backup_id` of `tier` (default: each tier's latest),
    printing a line per backup; returns the bad tables (`backup verify`, `archive verify`)."""
    bad = 0
    where = handles.backup_target(cfg)
    for name in [tier] if tier else snapshot.TIERS:
        if not backup_id and not snapshot.list_backups(where.store, name):
            print(f"{name}: no backup yet")
            continue
        result = verify_lib.verify(where.store, where.ring,
                                   snapshot.find_backup(where.store, name, backup_id))
        for table, why in result.bad:
            print(f"{name} {result.backup.id} {table}: BAD: {why}")
        bad += len(result.bad)
        print(f"{name}: backup {result.backup.id}: {plural(len(result.checked), 'table')} ok, "
              f"{len(result.bad)} bad")
    return bad


def cmd_restore(args: argparse.Namespace) -> int:
    cfg = load(args)
    tier = args.tier or "main"
    if args.replace and not args.yes:
        raise UsageError("--replace deletes every row written since the backup from the tables "
                         "restored (rows that moved in from core since exist nowhere else "
                         "afterwards); add --yes to go ahead, or leave --replace out to merge")
    backup = snapshot.find_backup(_store(cfg), tier, None if args.latest else args.backup_id)
    into = PgTier("restore target", args.into, False, None) if args.into else None
    results = handles.restore_backup(cfg, backup, args.tables, replace=args.replace, into=into)
    for r in results:
        if args.replace:
            print(f"{r.table}: {plural(r.rows, 'row')} as in backup {backup.id} "
                  f"({r.deleted:,} deleted, {r.inserted:,} inserted, fingerprint equal)")
            continue
        print(f"{r.table}: {r.inserted:,} of the backup's {plural(r.rows, 'row')} were missing "
              "and are back" + (f"; {r.elsewhere:,} missing here are in another tier (left "
                                "there)" if r.elsewhere else "")
              + (f"; {r.past_retention:,} older than delete_days stay deleted (retention)"
                 if r.past_retention else ""))
        if r.differing:
            more = ", …" if r.differing > len(r.examples) else ""
            print(f"  {plural(r.differing, 'row')} differ from the backup and were kept as they "
                  f"are (keys: {', '.join(r.examples)}{more})")
    return 0

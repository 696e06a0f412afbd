"""`persys adopt partition TABLE [--dry-run] [--yes]`: convert a table the person already had
into the monthly-partitioned form (lib/moves/adopt.py), after showing the plan: the room it
needs, the lock times measured on a sample of the table, and whether the primary key changes.
`--dry-run` shows the plan and changes nothing; without `--yes` it asks first (and refuses
when there is nobody at a terminal to ask); a plan that changes the key needs `--yes`."""

from __future__ import annotations

import argparse
import sys

from .. import handles
from ..handles import resolve_tier
from ..lib.errors import TierError, UsageError
from ..lib.moves import adopt as adopt_lib
from ..lib.pg import partitions as space
from ..lib.pg.session import pin_session
from ..lib.pg.vacuum import mb
from .common import add_config_arg, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adopt", help="take over a table you already had (monthly partitions)")
    asub = p.add_subparsers(dest="adopt_command", required=True, metavar="ACTION")
    part = asub.add_parser("partition", help="convert TABLE to monthly partitions in a "
                           "verified copy-and-swap, so moved months give their space back")
    add_config_arg(part)
    part.add_argument("table", metavar="TABLE", help="a table of core named in persys.yaml")
    part.add_argument("--dry-run", action="store_true",
                      help="show the plan and the room it needs, change nothing")
    part.add_argument("--yes", action="store_true", help="go ahead without asking")
    part.set_defaults(handler=partition_command)


def partition_command(args: argparse.Namespace) -> int:
    cfg = load(args)
    core = resolve_tier(cfg, "core")
    as_of = cfg.today()
    with core.connect() as conn:
        pin_session(conn)
        partitioned = args.table in cfg.tables and space.is_partitioned(conn, args.table)
        if not partitioned:
            plan = adopt_lib.plan_adoption(handles.spec(cfg, args.table), core, conn, as_of)
    if partitioned:
        left = adopt_lib.finish_left_over(handles.engine(cfg), core, args.table)
        if left:
            print(f"validated foreign keys an interrupted adoption left: {', '.join(left)}")
        print(f"{args.table} is already monthly-partitioned: nothing to do")
        return 0
    print("\n".join(plan.lines()))
    if plan.problems:
        raise TierError(f"adopt partition {args.table} refused: "
                        + "; ".join(plan.problems))
    if args.dry_run:
        print("dry run: nothing changed")
        return 0
    if plan.key_change and not args.yes:
        raise UsageError(f"adopt partition {args.table}: the primary key changes (see KEY "
                         "CHANGES above); nothing changed. Make the app's upserts and "
                         "references ready for it, then run again with --yes")
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"adopt partition {args.table}: add --yes to go ahead (or look "
                             "first with --dry-run)")
        if input(f"convert {args.table} now? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return 1
    done = adopt_lib.adopt_partition(handles.engine(cfg), core, handles.spec(cfg, args.table),
                                     as_of, key_change_ok=args.yes)
    print(f"adopted {args.table}: {done.fingerprint.rows:,} rows verified "
          f"(checksum {done.fingerprint.checksum}), {len(done.partitions)} partitions, "
          f"writes waited {done.seconds_writes:.2f} s, reads {done.seconds_reads:.3f} s; "
          f"{mb(plan.table_bytes)} → {mb(done.bytes_after)}")
    return 0

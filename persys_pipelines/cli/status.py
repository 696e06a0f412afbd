"""`persys status`: tier sizes against quota, rows and days per table per tier."""

from __future__ import annotations

import argparse
import json

from ..lib.monitoring import status as status_lib
from .common import add_config_arg, iso_date, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="sizes per tier, rows and day ranges per table")
    add_config_arg(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--as-of", type=iso_date, help="the day to report as (default today)")
    p.add_argument("--report", action="store_true",
                   help="the Markdown report: sizes and chart, moves, failures, forecast, costs")
    for section, what in (("sizes", "tier sizes, usage chart, tables per tier, forecast"),
                          ("sync", "recent moves and failures"),
                          ("lifecycle", "what the lifecycle has due")):
        p.add_argument(f"--{section}", action="append_const", const=section, dest="sections",
                       help=f"with --report: only {what}")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from .. import handles

    if args.report or args.sections:
        print(handles.report(load(args), tuple(args.sections or ()), as_of=args.as_of), end="")
        return 0
    doc = handles.status(load(args), args.as_of)
    print(json.dumps(doc, indent=2) if args.json else status_lib.render(doc))
    return 0

"""`persys status`: tier sizes against quota, rows and days per table per tier."""

from __future__ import annotations

import argparse
import json

from ..lib import status as status_lib
from .common import add_config_arg, iso_date, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="sizes per tier, rows and day ranges per table")
    add_config_arg(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--as-of", type=iso_date, help="the day to report as (default today)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    doc = status_lib.collect(load(args), args.as_of)
    print(json.dumps(doc, indent=2) if args.json else status_lib.render(doc))
    return 0

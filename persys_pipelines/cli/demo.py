"""`persys demo`: the whole system end to end on the embedded default, saying what it does."""

from __future__ import annotations

import argparse

from ..lib import setup as setup_lib
from ..lib import status as status_lib
from ..lib.sample_data import SampleDataRefused
from .common import add_config_arg, iso_date, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="setup + sample data + status, end to end")
    add_config_arg(p)
    p.add_argument("--days", type=int, default=400, help="days of sample data (default 400)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--as-of", type=iso_date, help="the demo's today (default today)")
    p.set_defaults(handler=run)


def step(text: str) -> None:
    print(f"\n== {text}")


def run(args: argparse.Namespace) -> int:
    cfg = load(args)
    as_of = args.as_of or cfg.today()
    step(f"1. tiers and schema (home {cfg.home})")
    for tier, tables in setup_lib.setup_tiers(cfg).items():
        print(f"{tier}: " + (f"created {', '.join(tables)}" if tables else "schema up to date"))

    step(f"2. sample data: {args.days} days ending {as_of}, seed {args.seed}")
    try:
        counts = setup_lib.load_sample_data(cfg, days=args.days, seed=args.seed, as_of=as_of)
        print(", ".join(f"{t} {n:,}" for t, n in counts.items()))
    except SampleDataRefused:
        print("the tables already hold data from an earlier demo: keeping it")

    step("3. status")
    print(status_lib.render(status_lib.collect(cfg, as_of)))
    return 0
